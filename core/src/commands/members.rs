//! `/members`.

use super::ctx::Ctx;
use crate::replies;

/// Lists the members of the current subserver (asks the home host for a remote one).
pub async fn apply(ctx: &mut Ctx<'_>) {
    let Some(room) = ctx.state.current_room() else {
        return ctx.reply(replies::JOIN_FIRST);
    };
    let names = match &room.home {
        None => room.member_names(),
        Some(home) => match ctx.hub().federation().members(&room.name, home).await {
            Some(names) => names,
            None => return ctx.reply(replies::MEMBERS_FAILED),
        },
    };
    ctx.reply(&replies::members(&room.label(), &names, crate::limits::LIST_NAMES));
}
