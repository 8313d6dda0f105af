//! [`Web`]: what the HTTP side needs from the rest of the server.

use crate::config::WebConfig;
use crate::context::Shared;

/// What the HTTP side needs: the shared state (capability routes, uploads) and `[web]`.
pub struct Web {
    /// What every chat session needs.
    pub shared: std::sync::Arc<Shared>,
    /// `[web]`.
    pub cfg: WebConfig,
}
