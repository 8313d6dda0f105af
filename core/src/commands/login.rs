//! `/login NAME PASSWORD` (before login); the password may also be sent base64-encoded.

use super::args::{command, Usage};
use super::ctx::Ctx;
use crate::gate::{self, Check};
use crate::replies;

command!(
    /// `/login NAME PASSWORD` (the password may hold spaces, or be base64).
    Login { name, password } (Usage::then_greet(replies::USAGE_LOGIN))
);

impl Login<'_> {
    /// Logs the session in, or answers why not followed by the greeting.
    pub async fn apply(self, ctx: &mut Ctx<'_>) {
        let (name, password) = (self.name, self.password);
        let n = name.to_owned();
        let account = match ctx.hub().store().run(move |s| s.account(&n)).await {
            Ok(a) => a,
            Err(e) => {
                ctx.storage_failed(&e);
                return ctx.reply(ctx.shared.greeting());
            }
        };
        // Budgets, fair hashing, base64 form and the dummy check for unknown names: see `gate`.
        let stored = account.as_ref().map(|a| a.hash.clone());
        let ok = match gate::check_login(ctx.shared, ctx.session.peer.ip(), name, stored, password).await {
            Check::Ok => true,
            Check::Bad => false,
            refused => {
                ctx.reply(if refused == Check::Busy { replies::BUSY } else { replies::TOO_MANY_LOGINS });
                return ctx.reply(ctx.shared.greeting());
            }
        };
        match account {
            Some(a) if ok && a.banned => {
                crate::metrics::count(&crate::metrics::M.logins, "result", "banned");
                ctx.reply(replies::BANNED);
                ctx.reply(ctx.shared.greeting());
            }
            Some(a) if ok => {
                crate::metrics::count(&crate::metrics::M.logins, "result", "ok");
                ctx.state.account = Some(a.name.as_str().into());
                ctx.hub().login(ctx.session, &a.name);
                tracing::info!(session = ctx.session.id, peer = %ctx.session.peer, account = %a.name, "login");
                let servers = replies::available_servers(&ctx.hub().room_names(), crate::limits::LIST_NAMES);
                ctx.reply(&format!("{}\n{servers}\n{}", replies::LOGGED_IN, replies::SELECT_SERVER));
            }
            _ => {
                crate::metrics::count(&crate::metrics::M.logins, "result", "failed");
                ctx.reply(replies::BAD_LOGIN);
                ctx.reply(ctx.shared.greeting());
            }
        }
    }
}
