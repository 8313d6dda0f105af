//! `/list_servers [PAGE]`.

use super::args::words;
use super::ctx::Ctx;
use crate::{limits, replies};

/// `/list_servers [PAGE]`: local subservers in creation order, a page of
/// [`limits::LIST_NAMES`] at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListServers {
    /// The page asked for (1 when none, or not a number, as before pages existed).
    pub page: usize,
}

impl ListServers {
    /// Parses the optional page number.
    pub fn parse(text: &str) -> Self {
        ListServers { page: words::<2>(text)[1].and_then(|p| p.trim().parse::<usize>().ok()).unwrap_or(1) }
    }

    /// Lists the page.
    pub fn apply(self, ctx: &mut Ctx<'_>) {
        ctx.reply(&replies::servers(&ctx.hub().room_names(), self.page, limits::LIST_NAMES));
    }
}
