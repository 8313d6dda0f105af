//! `/reload_capability NAME` (administrators): a new copy of a capability's
//! plugin file replaces the running one; sessions stay connected.

use super::args::{command, one_trimmed, Usage};
use super::ctx::Ctx;
use crate::replies;

command!(
    /// `/reload_capability NAME`.
    ReloadCapability(one_trimmed, Usage::of(replies::USAGE_RELOAD_CAPABILITY))
);

impl ReloadCapability<'_> {
    /// Reloads it and answers one line.
    pub async fn apply(self, ctx: &mut Ctx<'_>) {
        let hub = ctx.hub().clone();
        let line = hub.caps().reload(self.0).await;
        tracing::info!(admin = %ctx.account(), "{line}");
        ctx.reply(&line);
    }
}
