//! `/create_server NAME`.

use super::{given, storage_failed, words, Command, Ctx};
use crate::{names, replies};

/// Parses `/create_server NAME`.
pub fn parse(text: &str) -> Command<'_> {
    match given(words::<2>(text)[1]) {
        Some(name) => Command::CreateServer(name),
        None => Command::Usage { text: replies::USAGE_CREATE, greet: false },
    }
}

/// Creates a local subserver.
pub async fn apply(ctx: &mut Ctx<'_>, name: &str) {
    if let Err(reason) = names::check_room_name(name) {
        return ctx.reply(&replies::refused(reason));
    }
    match ctx.hub().create_room(name).await {
        Ok(true) => ctx.reply(&replies::created(name)),
        Ok(false) => ctx.reply(replies::SERVER_EXISTS),
        Err(e) => storage_failed(ctx, &e),
    }
}
