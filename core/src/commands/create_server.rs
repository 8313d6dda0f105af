//! `/create_server NAME`.

use super::{split, storage_failed, Ctx};
use crate::{gate, names, replies};

/// Creates a local subserver.
pub async fn run(ctx: &mut Ctx<'_>, text: &str) {
    let parts = split(text, 2);
    let Some(name) = parts.get(1).filter(|n| !n.is_empty()) else {
        return ctx.reply(replies::USAGE_CREATE);
    };
    if let Err(reason) = names::check_room_name(name) {
        return ctx.reply(&replies::refused(reason));
    }
    // `max_rooms` / `max_rooms_per_account`: see `gate`.
    if let Err(refusal) = gate::may_create_room(ctx.shared, &ctx.account()).await {
        return ctx.reply(&refusal);
    }
    match ctx.hub().create_room(name, &ctx.account()).await {
        Ok(true) => ctx.reply(&replies::created(name)),
        Ok(false) => ctx.reply(replies::SERVER_EXISTS),
        Err(e) => storage_failed(ctx, &e),
    }
}
