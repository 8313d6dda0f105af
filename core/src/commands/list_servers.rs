//! `/list_servers`.

use super::ctx::Ctx;
use crate::replies;

/// Lists local subservers in creation order.
pub fn apply(ctx: &mut Ctx<'_>) {
    ctx.reply(&replies::servers(&ctx.hub().room_names()));
}
