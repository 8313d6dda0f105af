//! `/list_servers [PAGE]`.

use super::{split, Ctx};
use crate::{limits, replies};

/// Lists local subservers in creation order, a page of [`limits::LIST_NAMES`] at a time.
pub fn run(ctx: &mut Ctx<'_>, text: &str) {
    // Anything that is not a page number shows page 1, as before pages existed.
    let page = split(text, 2).get(1).and_then(|p| p.trim().parse::<usize>().ok()).unwrap_or(1);
    ctx.reply(&replies::servers(&ctx.hub().room_names(), page, limits::LIST_NAMES));
}
