//! `/delete_server NAME` (administrators).

use super::args::{command, one_trimmed, Usage};
use super::ctx::Ctx;
use crate::replies;

command!(
    /// `/delete_server NAME`.
    DeleteServer(one_trimmed, Usage::of(replies::USAGE_DELETE))
);

impl DeleteServer<'_> {
    /// Deletes the local subserver (never the default one).
    pub async fn apply(self, ctx: &mut Ctx<'_>) {
        let name = self.0;
        if name == ctx.hub().settings().default_room {
            return ctx.reply(replies::CANNOT_DELETE_DEFAULT);
        }
        match ctx.hub().delete_room(name).await {
            Ok(true) => {
                tracing::info!(admin = %ctx.account(), room = %name, "server deleted");
                ctx.reply(&replies::server_deleted(name))
            }
            Ok(false) => ctx.reply(replies::NO_SUCH_SERVER),
            Err(e) => ctx.storage_failed(&e),
        }
    }
}
