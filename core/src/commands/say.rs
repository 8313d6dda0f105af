//! Chat and actions into the current subserver: delivered here for a local
//! one, handed to the home host for a remote one. Shared by chat and `/act`.

use super::ctx::Ctx;
use crate::{names, replies};

/// Checks the text and says it in the current subserver.
pub async fn say(ctx: &mut Ctx<'_>, text: &str, is_act: bool) {
    let Some(room) = ctx.state.current_room() else {
        return ctx.reply(replies::JOIN_FIRST);
    };
    if is_act && (text == replies::JOINED_TEXT || text == replies::LEFT_TEXT) {
        return ctx.reply(replies::ACT_NOT_ALLOWED);
    }
    if let Err(reason) = names::check_text(text) {
        return ctx.reply(&replies::refused(reason));
    }
    let account = ctx.account();
    let hub = ctx.hub();
    // A line the other nodes of a cluster would miss is refused, not half-delivered.
    if let Some(why) = hub.bus().trouble() {
        return ctx.reply(&why);
    }
    match &room.home {
        None => hub.say(&room, &account, None, text, is_act),
        // Awaited so a session's lines stay in order; the home host echoes it back as a room event.
        Some(home) => {
            if !hub.federation().say_remote(&room.name, home, &account, text, is_act).await {
                ctx.reply(&replies::not_delivered(home));
            }
        }
    }
}
