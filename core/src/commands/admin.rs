//! Administrator commands: `/ban USER`, `/unban USER`, `/delete_server NAME`.

use super::{split, storage_failed, Ctx};
use crate::replies;

/// Runs an admin command (the caller was checked to be an admin).
pub async fn run(ctx: &mut Ctx<'_>, word: &str, text: &str) {
    let parts = split(text, 2);
    let arg = parts.get(1).map(|a| a.trim()).filter(|a| !a.is_empty()).map(str::to_owned);
    let Some(arg) = arg else {
        let usage = if word == "/delete_server" { "<server_name>" } else { "<username>" };
        return ctx.reply(&format!("Usage: {word} {usage}"));
    };
    let hub = ctx.hub().clone();
    match word {
        "/delete_server" => {
            if arg == hub.settings().default_room {
                return ctx.reply(replies::CANNOT_DELETE_DEFAULT);
            }
            match hub.delete_room(&arg).await {
                Ok(true) => {
                    tracing::info!(admin = %ctx.account(), room = %arg, "server deleted");
                    ctx.reply(&format!("Server '{arg}' deleted."))
                }
                Ok(false) => ctx.reply(replies::NO_SUCH_SERVER),
                Err(e) => storage_failed(ctx, &e),
            }
        }
        _ => {
            let ban = word == "/ban";
            if ban && arg == *ctx.account() {
                return ctx.reply("Error: you cannot ban yourself.");
            }
            let a = arg.clone();
            match hub.store().run(move |s| s.set_banned(&a, ban)).await {
                Ok(false) => ctx.reply(replies::NO_SUCH_USER),
                Ok(true) if ban => {
                    tracing::info!(admin = %ctx.account(), user = %arg, "user banned");
                    hub.kick_account(&arg, replies::YOU_ARE_BANNED);
                    ctx.reply(&format!("User '{arg}' has been banned."));
                }
                Ok(true) => ctx.reply(&format!("User '{arg}' has been unbanned.")),
                Err(e) => storage_failed(ctx, &e),
            }
        }
    }
}
