//! Public chat: any message not starting with `/`.

use super::Ctx;
use crate::{names, replies};

/// Sends a chat line to the current subserver (local delivery, or to the home host).
pub async fn run(ctx: &mut Ctx<'_>, text: &str) {
    let Some(room) = ctx.state.current_room() else {
        return ctx.reply(replies::JOIN_FIRST);
    };
    if let Err(reason) = names::check_text(text) {
        return ctx.reply(&replies::refused(reason));
    }
    let account = ctx.account();
    match &room.home {
        None => ctx.hub().say(&room, &account, None, text, false),
        Some(_) => super::act::say_remote(ctx, &room, text, false).await,
    }
}
