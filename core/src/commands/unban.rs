//! `/unban USER` (administrators).

use super::args::{command, one_trimmed, Usage};
use super::ban::set_banned;
use super::ctx::Ctx;
use crate::replies;

command!(
    /// `/unban USER`.
    Unban(one_trimmed, Usage::of(replies::USAGE_UNBAN))
);

impl Unban<'_> {
    /// Lifts the ban.
    pub async fn apply(self, ctx: &mut Ctx<'_>) {
        if set_banned(ctx, self.0, false).await {
            ctx.reply(&replies::unbanned(self.0));
        }
    }
}
