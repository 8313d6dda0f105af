//! `/login NAME PASSWORD` (before login); the password may also be sent base64-encoded.

use super::{split, storage_failed, Ctx};
use crate::gate::{self, Check};
use crate::replies;

/// Logs the session in, or answers why not followed by the greeting.
pub async fn run(ctx: &mut Ctx<'_>, text: &str) {
    let parts = split(text, 3);
    if parts.len() < 3 || parts[1].is_empty() || parts[2].is_empty() {
        ctx.reply(replies::USAGE_LOGIN);
        return ctx.reply(ctx.shared.greeting());
    }
    let (name, password) = (parts[1].to_owned(), parts[2].to_owned());
    let n = name.clone();
    let account = match ctx.hub().store().run(move |s| s.account(&n)).await {
        Ok(a) => a,
        Err(e) => {
            storage_failed(ctx, &e);
            return ctx.reply(ctx.shared.greeting());
        }
    };
    // Budgets, fair hashing, base64 form and the dummy check for unknown names: see `gate`.
    let stored = account.as_ref().map(|a| a.hash.clone());
    let ok = match gate::check_login(ctx.shared, ctx.session.peer.ip(), &name, stored, &password).await {
        Check::Ok => true,
        Check::Bad => false,
        refused => {
            ctx.reply(if refused == Check::Busy { gate::BUSY } else { gate::TOO_MANY_LOGINS });
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
