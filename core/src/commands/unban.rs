//! `/unban USER` (administrators).

use super::args::{one_trimmed, Usage};
use super::ban::set_banned;
use super::ctx::Ctx;
use crate::replies;

/// `/unban USER`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unban<'a>(pub &'a str);

impl<'a> Unban<'a> {
    /// Parses `/unban USER`.
    pub fn parse(text: &'a str) -> Result<Self, Usage> {
        one_trimmed(text).map(Unban).ok_or(Usage::of(replies::USAGE_UNBAN))
    }

    /// Lifts the ban.
    pub async fn apply(self, ctx: &mut Ctx<'_>) {
        if set_banned(ctx, self.0, false).await {
            ctx.reply(&replies::unbanned(self.0));
        }
    }
}
