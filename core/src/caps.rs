//! What the core asks of the loaded capabilities. The plugin registry
//! (`capabilities::Registry`) implements [`Capabilities`]; [`NoCapabilities`]
//! stands in when none are loaded. A leaf module: it imports nothing of the crate but the config type and `http_reply`.

use async_trait::async_trait;
use hyper::body::Incoming;
use hyper::{Request, Response};
use std::net::SocketAddr;

/// Who runs a capability command (the plugin interface's own type).
pub use plugin_api::Caller;

/// What kind of line a delivery filter is asked about (the plugin interface's own type,
/// so a filter question crosses the boundary unchanged).
pub use plugin_api::DeliveryKind;

/// The core's view of the capability registry.
#[async_trait]
pub trait Capabilities: Send + Sync {
    /// Names of the loaded capabilities, in load order.
    fn names(&self) -> Vec<String>;
    /// Help for `/CAP`: one line per command, joined by `\n`; `None` if no such capability.
    fn help(&self, cap: &str) -> Option<String>;
    /// Runs `/CAP-COMMAND ARGS`. `None` if the capability or command does not exist
    /// (the core answers `Unknown command.`); `Some("")` sends nothing.
    async fn command(&self, cap: &str, command: &str, args: &str, caller: Caller) -> Option<String>;
    /// True when some capability filters deliveries (so the core must ask [`Capabilities::allow`]).
    fn filters_delivery(&self) -> bool;
    /// May a line of `kind` from `from` (`user` or `user@host`) reach local account `to`?
    fn allow(&self, kind: DeliveryKind, from: &str, to: &str) -> bool;
    /// An account's first session logged in (`online`) or its last one went.
    /// `host` is `None` for local accounts, `Some(host)` for users of other hosts.
    fn presence(&self, account: &str, host: Option<&str>, online: bool);
    /// A server-to-server request of a type some capability owns; returns the JSON answer.
    async fn s2s(&self, msg_type: &str, from_host: &str, json: &str) -> Option<String>;
    /// True when some capability declared an HTTP path prefix that `path` starts with.
    fn serves_path(&self, path: &str) -> bool;
    /// Answers one HTTP request for such a path (the core's HTTP router calls it).
    async fn http(
        &self,
        req: Request<Incoming>,
        peer: SocketAddr,
        uploads: &crate::uploads::Uploads,
    ) -> Response<crate::http_reply::Body>;
    /// True when some capability wants each line of local rooms (so the core calls [`Capabilities::room_line`]).
    fn room_lines(&self) -> bool {
        false
    }
    /// A line of a local room, once: chat, act (`text` is the action), join or leave (`text` empty).
    fn room_line(&self, _room: &str, _kind: DeliveryKind, _sender: &str, _text: &str) {}
    /// True when some capability wants to hear of sessions joining local rooms.
    fn room_joins(&self) -> bool {
        false
    }
    /// A session joined a local room (after its join reply was queued).
    fn room_joined(&self, _room: &str, _caller: Caller) {}
    /// Another node of the cluster changed `key` in capability `cap`'s storage.
    fn kv_changed(&self, _cap: &str, _key: &str) {}
    /// `/reload_capability NAME`: loads a new copy of its file; one line for the admin.
    async fn reload(&self, name: &str) -> String {
        format!("Capability {name} not reloaded: it is not loaded.")
    }
    /// Applies a re-read `[capabilities]` section; one line per change.
    async fn apply_config(&self, _cfg: &crate::config::CapabilitiesConfig) -> Vec<String> {
        Vec::new()
    }
    /// The server stops: every capability's `shutdown()` hook runs.
    async fn shutdown(&self) {}
}

/// The registry when no capability is loaded.
pub struct NoCapabilities;

#[async_trait]
impl Capabilities for NoCapabilities {
    fn names(&self) -> Vec<String> {
        Vec::new()
    }
    fn help(&self, _cap: &str) -> Option<String> {
        None
    }
    async fn command(&self, _: &str, _: &str, _: &str, _: Caller) -> Option<String> {
        None
    }
    fn filters_delivery(&self) -> bool {
        false
    }
    fn allow(&self, _: DeliveryKind, _: &str, _: &str) -> bool {
        true
    }
    fn presence(&self, _: &str, _: Option<&str>, _: bool) {}
    async fn s2s(&self, _: &str, _: &str, _: &str) -> Option<String> {
        None
    }
    fn serves_path(&self, _: &str) -> bool {
        false
    }
    async fn http(
        &self,
        _: Request<Incoming>,
        _: SocketAddr,
        _: &crate::uploads::Uploads,
    ) -> Response<crate::http_reply::Body> {
        crate::http_reply::plain(hyper::StatusCode::NOT_FOUND, "Not Found")
    }
}
