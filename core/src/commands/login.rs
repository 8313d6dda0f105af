//! `/login NAME PASSWORD` (before login); the password may also be sent base64-encoded.

use super::args::{command, Usage};
use super::ctx::Ctx;
use crate::replies;
use base64::Engine;

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
        let mut candidates = vec![password.to_owned()];
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
                ctx.reply(replies::BANNED);
                ctx.reply(ctx.shared.greeting());
            }
            Some(a) if ok => {
                ctx.state.account = Some(a.name.as_str().into());
                ctx.state.admin = ctx.hub().is_admin(&a.name);
                ctx.hub().login(ctx.session, &a.name);
                tracing::info!(session = ctx.session.id, peer = %ctx.session.peer, account = %a.name, "login");
                let servers = replies::available_servers(&ctx.hub().room_names());
                ctx.reply(&format!("{}\n{servers}\n{}", replies::LOGGED_IN, replies::SELECT_SERVER));
            }
            _ => {
                ctx.reply(replies::BAD_LOGIN);
                ctx.reply(ctx.shared.greeting());
            }
        }
    }
}
