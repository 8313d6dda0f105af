//! `/delete_server NAME` (administrators).

use super::ban::argument;
use super::{storage_failed, Command, Ctx};
use crate::replies;

/// Parses `/delete_server NAME`.
pub fn parse(text: &str) -> Command<'_> {
    match argument(text) {
        Some(name) => Command::DeleteServer(name),
        None => Command::Usage { text: replies::USAGE_DELETE, greet: false },
    }
}

/// Deletes a local subserver (never the default one).
pub async fn apply(ctx: &mut Ctx<'_>, name: &str) {
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
        Err(e) => storage_failed(ctx, &e),
    }
}
