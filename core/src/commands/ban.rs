//! `/ban USER` (administrators): disconnects the account's sessions and refuses its logins.

use super::args::{command, one_trimmed, Usage};
use super::ctx::Ctx;
use crate::replies;

command!(
    /// `/ban USER`.
    Ban(one_trimmed, Usage::of(replies::USAGE_BAN))
);

impl Ban<'_> {
    /// Bans the account: its sessions are closed, its logins refused.
    pub async fn apply(self, ctx: &mut Ctx<'_>) {
        let user = self.0;
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
            ctx.storage_failed(&e);
            false
        }
    }
}
