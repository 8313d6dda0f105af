//! `/act ACTION`.

use super::{split, Ctx};
use crate::hub::Room;
use crate::{names, replies};
use std::sync::Arc;

/// Sends an action to the current subserver.
pub async fn run(ctx: &mut Ctx<'_>, text: &str) {
    let parts = split(text, 2);
    let Some(action) = parts.get(1).filter(|a| !a.trim().is_empty()) else {
        return ctx.reply(replies::USAGE_ACT);
    };
    let Some(room) = ctx.state.current_room() else {
        return ctx.reply(replies::JOIN_FIRST);
    };
    if *action == replies::JOINED_TEXT || *action == replies::LEFT_TEXT {
        return ctx.reply(replies::ACT_NOT_ALLOWED);
    }
    if let Err(reason) = names::check_text(action) {
        return ctx.reply(&replies::refused(reason));
    }
    let account = ctx.account();
    match &room.home {
        None => ctx.hub().say(&room, &account, None, action, true),
        Some(_) => say_remote(ctx, &room, action, true).await,
    }
}

/// Hands chat or an action for a remote subserver to its home host, which
/// echoes it back as a room event. Awaited so a session's lines stay in order.
pub async fn say_remote(ctx: &Ctx<'_>, room: &Arc<Room>, text: &str, is_act: bool) {
    let Some(home) = room.home.clone() else { return };
    if !ctx.hub().federation().say_remote(&room.name, &home, &ctx.account(), text, is_act).await {
        ctx.reply(&format!("Error: could not reach {home}; your message was not delivered."));
    }
}
