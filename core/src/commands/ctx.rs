//! [`Ctx`]: what a command works with while it is applied.

use crate::context::{Shared, State};
use crate::hub::{Hub, SessionHandle};
use crate::replies;
use std::sync::Arc;

/// What a command works with.
pub struct Ctx<'a> {
    /// Server-wide things.
    pub shared: &'a Shared,
    /// This connection.
    pub session: &'a Arc<SessionHandle>,
    /// This connection's state.
    pub state: &'a mut State,
}

impl Ctx<'_> {
    /// Queues a reply to this session (with the outbox's reply headroom).
    pub fn reply(&self, text: &str) {
        self.session.reply(text);
    }

    /// The hub.
    pub fn hub(&self) -> &Arc<Hub> {
        &self.shared.hub
    }

    /// The logged-in account (commands after login only).
    pub fn account(&self) -> Arc<str> {
        self.state.account.clone().unwrap_or_else(|| "".into())
    }

    /// Answers a storage failure without leaking details to the client.
    pub fn storage_failed(&self, err: &dyn std::fmt::Display) {
        tracing::error!(session = self.session.id, "{err}");
        self.reply(replies::STORAGE_ERROR);
    }
}
