//! `/delete_server NAME` (administrators).

use super::args::{one_trimmed, Usage};
use super::ctx::Ctx;
use crate::replies;

/// `/delete_server NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteServer<'a>(pub &'a str);

impl<'a> DeleteServer<'a> {
    /// Parses `/delete_server NAME`.
    pub fn parse(text: &'a str) -> Result<Self, Usage> {
        one_trimmed(text).map(DeleteServer).ok_or(Usage::of(replies::USAGE_DELETE))
    }

    /// Deletes the local subserver (never the default one).
    pub async fn apply(self, ctx: &mut Ctx<'_>) {
        apply(ctx, self.0).await
    }
}

async fn apply(ctx: &mut Ctx<'_>, name: &str) {
    let hub = ctx.hub().clone();
    if name == hub.settings().default_room {
        return ctx.reply(replies::CANNOT_DELETE_DEFAULT);
    }
    match hub.delete_room(name).await {
        Ok(true) => {
            tracing::info!(admin = %ctx.account(), room = %name, "server deleted");
            ctx.reply(&replies::server_deleted(name))
        }
        Ok(false) => ctx.reply(replies::NO_SUCH_SERVER),
        Err(e) => ctx.storage_failed(&e),
    }
}
