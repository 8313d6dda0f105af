//! `/reload_capability NAME` (administrators): a new copy of a capability's
//! plugin file replaces the running one; sessions stay connected.

use super::args::{one_trimmed, Usage};
use super::ctx::Ctx;
use crate::replies;

/// `/reload_capability NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReloadCapability<'a>(pub &'a str);

impl<'a> ReloadCapability<'a> {
    /// Parses `/reload_capability NAME`.
    pub fn parse(text: &'a str) -> Result<Self, Usage> {
        one_trimmed(text).map(ReloadCapability).ok_or(Usage::of(replies::USAGE_RELOAD_CAPABILITY))
    }

    /// Reloads it and answers one line.
    pub async fn apply(self, ctx: &mut Ctx<'_>) {
        let hub = ctx.hub().clone();
        let line = hub.caps().reload(self.0).await;
        tracing::info!(admin = %ctx.account(), "{line}");
        ctx.reply(&line);
    }
}
