//! `/pm USER MESSAGE` and `/pm USER@HOST MESSAGE`.

use super::args::{command, Usage};
use super::ctx::Ctx;
use crate::remote::PmOutcome;
use crate::{names, replies};

command!(
    /// `/pm USER MESSAGE` or `/pm USER@HOST MESSAGE`.
    Pm { to, text } (Usage::of(replies::USAGE_PM))
);

impl Pm<'_> {
    /// Sends the message to every session of a local or remote account.
    pub async fn apply(self, ctx: &mut Ctx<'_>) {
        let (target, message) = (self.to, self.text);
        if let Err(reason) = names::check_text(message) {
            return ctx.reply(&replies::refused(reason));
        }
        let me = ctx.account();
        let hub = ctx.hub().clone();
        match target.rsplit_once('@') {
            Some((user, host)) if host != hub.host() => {
                let outcome = hub.federation().send_pm(&me, user, host, message).await;
                match outcome {
                    PmOutcome::Sent => ctx.reply(&replies::pm_sent(target)),
                    PmOutcome::NoSuchUser => ctx.reply(replies::NO_SUCH_USER),
                    PmOutcome::Failed => ctx.reply(&replies::pm_failed(target)),
                }
            }
            other => {
                let user = other.map(|(u, _)| u).unwrap_or(target).to_owned();
                if user == *me {
                    return ctx.reply(replies::PM_SELF);
                }
                if let Some(why) = hub.bus().trouble() {
                    return ctx.reply(&why);
                }
                if !hub.is_online(&user) {
                    let u = user.clone();
                    match hub.store().run(move |s| s.account_exists(&u)).await {
                        Ok(true) => {}
                        Ok(false) => return ctx.reply(replies::NO_SUCH_USER),
                        Err(e) => return ctx.storage_failed(&e),
                    }
                }
                if hub.deliver_pm(&me, &user, message) {
                    ctx.reply(&replies::pm_sent(target));
                } else {
                    ctx.reply(&replies::pm_failed(target));
                }
            }
        }
    }
}
