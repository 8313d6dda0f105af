//! `/login NAME PASSWORD` (before login); the password may also be sent base64-encoded.

use super::{split, storage_failed, Ctx};
use crate::replies;
use base64::Engine;

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
    let mut candidates = vec![password.clone()];
    if let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(password.trim()) {
        if let Ok(text) = String::from_utf8(decoded) {
            candidates.push(text);
        }
    }
    let ok = match &account {
        Some(a) => ctx.shared.auth.verify(a.hash.clone(), candidates).await,
        None => false,
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
            let servers = replies::available_servers(&ctx.hub().room_names());
            ctx.reply(&format!("{}\n{servers}\n{}", replies::LOGGED_IN, replies::SELECT_SERVER));
        }
        _ => {
            crate::metrics::count(&crate::metrics::M.logins, "result", "failed");
            ctx.reply(replies::BAD_LOGIN);
            ctx.reply(ctx.shared.greeting());
        }
    }
}
