//! `/create_server NAME`.

use super::args::{one, Usage};
use super::ctx::Ctx;
use crate::{names, replies};

/// `/create_server NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateServer<'a>(pub &'a str);

impl<'a> CreateServer<'a> {
    /// Parses `/create_server NAME`.
    pub fn parse(text: &'a str) -> Result<Self, Usage> {
        one(text).map(CreateServer).ok_or(Usage::of(replies::USAGE_CREATE))
    }

    /// Creates a local subserver.
    pub async fn apply(self, ctx: &mut Ctx<'_>) {
        apply(ctx, self.0).await
    }
}

async fn apply(ctx: &mut Ctx<'_>, name: &str) {
    if let Err(reason) = names::check_room_name(name) {
        return ctx.reply(&replies::refused(reason));
    }
    match ctx.hub().create_room(name).await {
        Ok(true) => ctx.reply(&replies::created(name)),
        Ok(false) => ctx.reply(replies::SERVER_EXISTS),
        Err(e) => ctx.storage_failed(&e),
    }
}
