//! `/create_server NAME`.

use super::args::{command, one, Usage};
use super::ctx::Ctx;
use crate::{gate, names, replies};

command!(
    /// `/create_server NAME`.
    CreateServer(one, Usage::of(replies::USAGE_CREATE))
);

impl CreateServer<'_> {
    /// Creates a local subserver.
    pub async fn apply(self, ctx: &mut Ctx<'_>) {
        let name = self.0;
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
            Err(e) => ctx.storage_failed(&e),
        }
    }
}
