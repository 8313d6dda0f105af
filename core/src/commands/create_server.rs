//! `/create_server NAME`.

use super::{split, storage_failed, Ctx};
use crate::{names, replies};

/// Creates a local subserver.
pub async fn run(ctx: &mut Ctx<'_>, text: &str) {
    let parts = split(text, 2);
    let Some(name) = parts.get(1).filter(|n| !n.is_empty()) else {
        return ctx.reply(replies::USAGE_CREATE);
    };
    if let Err(reason) = names::check_room_name(name) {
        return ctx.reply(&replies::refused(reason));
    }
    match ctx.hub().create_room(name).await {
        Ok(true) => ctx.reply(&replies::created(name)),
        Ok(false) => ctx.reply(replies::SERVER_EXISTS),
        Err(e) => storage_failed(ctx, &e),
    }
}
