//! `/ban USER` (administrators): disconnects the account's sessions and refuses its logins.

use super::{given, storage_failed, words, Command, Ctx};
use crate::replies;

/// The one argument of an admin command, trimmed; `None` when missing.
pub fn argument(text: &str) -> Option<&str> {
    given(words::<2>(text)[1].map(str::trim))
}

/// Parses `/ban USER`.
pub fn parse(text: &str) -> Command<'_> {
    match argument(text) {
        Some(user) => Command::Ban(user),
        None => Command::Usage { text: replies::USAGE_BAN, greet: false },
    }
}

/// Bans an account.
pub async fn apply(ctx: &mut Ctx<'_>, user: &str) {
    if *user == *ctx.account() {
        return ctx.reply(replies::BAN_SELF);
    }
    if set_banned(ctx, user, true).await {
        tracing::info!(admin = %ctx.account(), user, "user banned");
        // The reply first: the kicked sessions' leave notice must come after it.
        ctx.reply(&replies::banned(user));
        ctx.hub().kick_account(user, replies::YOU_ARE_BANNED);
    }
}

/// Stores the ban flag; true when the account exists (else the reply is sent here).
pub async fn set_banned(ctx: &Ctx<'_>, user: &str, banned: bool) -> bool {
    let u = user.to_owned();
    match ctx.hub().store().run(move |s| s.set_banned(&u, banned)).await {
        Ok(true) => true,
        Ok(false) => {
            ctx.reply(replies::NO_SUCH_USER);
            false
        }
        Err(e) => {
            storage_failed(ctx, &e);
            false
        }
    }
}
