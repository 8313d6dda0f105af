//! `/unban USER` (administrators).

use super::ban::{argument, set_banned};
use super::{Command, Ctx};
use crate::replies;

/// Parses `/unban USER`.
pub fn parse(text: &str) -> Command<'_> {
    match argument(text) {
        Some(user) => Command::Unban(user),
        None => Command::Usage { text: replies::USAGE_UNBAN, greet: false },
    }
}

/// Lifts a ban.
pub async fn apply(ctx: &mut Ctx<'_>, user: &str) {
    if set_banned(ctx, user, false).await {
        ctx.reply(&replies::unbanned(user));
    }
}
