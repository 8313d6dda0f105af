//! The trait a capability author implements.

use crate::types::{Caller, Command, DeliveryKind, HttpRequest, HttpResponse, Presence, Reply, RoomLine};

/// A capability: ordinary safe Rust, exported with [`crate::export_capability!`].
///
/// Every method takes `&self` and may be called from several threads at once:
/// keep mutable state behind a `Mutex`/`RwLock`. A panic in any method is caught
/// at the plugin boundary; the server logs it and keeps serving.
///
/// Commands, server-to-server messages, HTTP requests and ticks run on the
/// server's blocking threads, so they may use the storage and
/// [`crate::Host::s2s_request`]. The delivery filter and the presence hook run
/// in the middle of delivering a line: they must be quick, in-memory only.
pub trait Capability: Send + Sync + 'static {
    /// Its name: `/NAME` shows the help, `/NAME-COMMAND` runs a command. Must match `libdmcap_NAME.so`.
    const NAME: &'static str;
    /// Its version, usually `env!("CARGO_PKG_VERSION")`.
    const VERSION: &'static str;

    /// Its commands, in help order.
    fn commands(&self) -> Vec<Command>;

    /// Runs `/NAME-COMMAND ARGS` (only called for a command in [`Capability::commands`]).
    fn command(&self, command: &str, args: &str, caller: &Caller) -> Reply;

    /// True if [`Capability::allow_delivery`] should be asked (read once, at load).
    fn filters_delivery(&self) -> bool {
        false
    }

    /// May a line of `kind` from `from` (`user` or `user@host`) reach local account `to`? Must be quick.
    fn allow_delivery(&self, _kind: DeliveryKind, _from: &str, _to: &str) -> bool {
        true
    }

    /// An account's first session came in or its last one went. Must be quick.
    fn presence(&self, _event: &Presence) {}

    /// Server-to-server message types this capability handles (read once, at load).
    fn s2s_types(&self) -> Vec<String> {
        Vec::new()
    }

    /// Handles a server-to-server message of one of its types: JSON text in, JSON text out.
    /// `None` answers as if nobody handled the type.
    fn s2s(&self, _msg_type: &str, _from_host: &str, _json: &str) -> Option<String> {
        None
    }

    /// HTTP path prefixes served from the main port, e.g. `/upload` (read once, at load).
    fn http_prefixes(&self) -> Vec<String> {
        Vec::new()
    }

    /// Largest HTTP request body accepted; the server answers 400 past it without reading on.
    fn http_max_body(&self) -> u64 {
        64 * 1024
    }

    /// Handles an HTTP request whose path starts with one of its prefixes.
    fn http(&self, _request: HttpRequest) -> HttpResponse {
        HttpResponse::text(404, "Not Found")
    }

    /// Seconds between calls of [`Capability::tick`]; 0 (the default) = never.
    fn tick_secs(&self) -> u64 {
        0
    }

    /// Periodic housekeeping (e.g. expiring files), on a blocking thread.
    fn tick(&self) {}

    /// The server is stopping, or this copy is being replaced by a reload.
    fn shutdown(&self) {}

    /// True if [`Capability::room_line`] should be called (read once, at load). Since 0.1.1.
    fn wants_room_lines(&self) -> bool {
        false
    }

    /// A line of a local room (chat, act, join, leave; never a PM), once per line.
    /// Called while the line is delivered: queue it and return, never block. Since 0.1.1.
    fn room_line(&self, _line: &RoomLine) {}

    /// True if [`Capability::room_joined`] should be called (read once, at load). Since 0.1.1.
    fn wants_room_joins(&self) -> bool {
        false
    }

    /// A session joined the local `room` (after its join reply). Must be quick. Since 0.1.1.
    fn room_joined(&self, _room: &str, _caller: &Caller) {}

    /// True if [`Capability::kv_changed`] should be called (read once, at load). Since 0.1.2.
    fn wants_kv_changes(&self) -> bool {
        false
    }

    /// In cluster mode, another node of this host changed (set, deleted, incremented)
    /// `key` of this capability's storage: re-read it to refresh what is kept in memory.
    /// Runs on a blocking thread, within a second of the change; never called on a
    /// single node (nobody else writes there). Since 0.1.2.
    fn kv_changed(&self, _key: &str) {}

    /// True if HTTP request bodies should be streamed to a file and handed to
    /// [`Capability::http_body_file`] instead of [`Capability::http`] (read once, at load). Since 0.1.3.
    fn http_body_to_file(&self) -> bool {
        false
    }

    /// Handles an HTTP request whose body the server saved to `body_file` (the request's
    /// `body` is empty). Move or copy what it keeps: the server deletes `body_file`
    /// after this returns. Since 0.1.3.
    fn http_body_file(&self, _request: HttpRequest, _body_file: &std::path::Path) -> HttpResponse {
        HttpResponse::text(500, "Internal Server Error")
    }
}

/// What a capability constructor may return: the capability, or `Result<capability, error>`.
pub trait IntoCapability {
    /// The capability type.
    type Cap: Capability;
    /// The capability, or why it cannot start.
    fn into_capability(self) -> Result<Self::Cap, String>;
}

impl<C: Capability> IntoCapability for C {
    type Cap = C;
    fn into_capability(self) -> Result<C, String> {
        Ok(self)
    }
}

impl<C: Capability, E: std::fmt::Display> IntoCapability for Result<C, E> {
    type Cap = C;
    fn into_capability(self) -> Result<C, String> {
        self.map_err(|e| e.to_string())
    }
}
