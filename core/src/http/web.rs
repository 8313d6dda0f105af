//! [`Web`]: what the HTTP side needs from the rest of the server.

use crate::config::WebConfig;
use crate::context::Shared;

/// What the HTTP side needs: the session context (for WebSocket sessions) and `[web]`.
pub struct Web {
    /// What every chat session needs.
    pub shared: std::sync::Arc<Shared>,
    /// `[web]`.
    pub cfg: WebConfig,
    /// Gives each WebSocket session its shutdown guard.
    pub sessions: crate::shutdown::Watch,
}
