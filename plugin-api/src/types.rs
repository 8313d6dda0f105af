//! Plain Rust types both sides use: no FFI types here.

use std::net::IpAddr;
use std::path::PathBuf;

/// One command of a capability, as `/CAP-NAME ARGS - DESCRIPTION` in its help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The part after `/CAP-`, e.g. `check`.
    pub name: String,
    /// How the arguments look, e.g. `<username>`; empty when it takes none.
    pub args: String,
    /// One line saying what it does.
    pub description: String,
}

impl Command {
    /// A command with its argument synopsis and description.
    pub fn new(name: &str, args: &str, description: &str) -> Self {
        Command { name: name.into(), args: args.into(), description: description.into() }
    }

    /// Its help line: `/CAP-NAME ARGS - DESCRIPTION` (no ARGS part when it takes none).
    pub fn help_line(&self, cap: &str) -> String {
        if self.args.is_empty() {
            format!("/{cap}-{} - {}", self.name, self.description)
        } else {
            format!("/{cap}-{} {} - {}", self.name, self.args, self.description)
        }
    }

    /// Its usage error: `Usage: /CAP-NAME ARGS`.
    pub fn usage(&self, cap: &str) -> String {
        if self.args.is_empty() {
            format!("Usage: /{cap}-{}", self.name)
        } else {
            format!("Usage: /{cap}-{} {}", self.name, self.args)
        }
    }
}

/// Who runs a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The logged-in account.
    pub account: String,
    /// The session's id (unique while the server runs); see [`crate::Host::send_to_session`].
    pub session_id: u64,
    /// The session's peer IP.
    pub peer_ip: IpAddr,
    /// The subserver the session is in (`room` or `room@host`), if any.
    pub room: Option<String>,
}

/// What a command answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Text for the caller; may hold several lines joined by `\n`.
    Text(String),
    /// `Usage: /CAP-COMMAND ARGS`, built from the command list.
    Usage,
    /// Nothing is sent to the caller.
    Silent,
}

impl From<String> for Reply {
    fn from(s: String) -> Self {
        Reply::Text(s)
    }
}

impl From<&str> for Reply {
    fn from(s: &str) -> Self {
        Reply::Text(s.to_owned())
    }
}

/// What kind of line the delivery filter is asked about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryKind {
    /// Public chat in a subserver.
    Chat,
    /// `/act` in a subserver.
    Act,
    /// `*** USER has joined the server.`
    Join,
    /// `*** USER has left the server.`
    Leave,
    /// A private message.
    Pm,
}

/// A line said in a local room, as the history hook sees it (once per line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomLine {
    /// The local room.
    pub room: String,
    /// Chat, act, join or leave (never a PM).
    pub kind: DeliveryKind,
    /// Who said it: `user` or `user@host`.
    pub sender: String,
    /// The text (empty for join and leave).
    pub text: String,
    /// When, in milliseconds since the Unix epoch.
    pub time_ms: u64,
}

/// An account came online (first session) or went offline (last session).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presence {
    /// The account name.
    pub account: String,
    /// `None` for this server's accounts, else the user's home host.
    pub host: Option<String>,
    /// True when it came online.
    pub online: bool,
}

/// An HTTP request routed to a capability from the main port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// Path and query, e.g. `/file/ab12/x.txt`.
    pub path: String,
    /// Header names (lower case) and values.
    pub headers: Vec<(String, String)>,
    /// The whole body (never more than the capability's declared maximum).
    pub body: Vec<u8>,
}

impl HttpRequest {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// What the HTTP handler answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Extra headers (`Content-Length` is set by the server).
    pub headers: Vec<(String, String)>,
    /// The body bytes, or a file the server streams.
    pub body: HttpBody,
}

/// An HTTP response body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpBody {
    /// These bytes.
    Bytes(Vec<u8>),
    /// The contents of this file, streamed by the server (404 if it cannot be opened).
    File(PathBuf),
}

impl HttpResponse {
    /// A response with a body.
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        HttpResponse {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: HttpBody::Bytes(body.into()),
        }
    }

    /// A JSON response.
    pub fn json(status: u16, json: &str) -> Self {
        Self::new(status, "application/json", json)
    }

    /// A plain-text response.
    pub fn text(status: u16, text: &str) -> Self {
        Self::new(status, "text/plain; charset=utf-8", text)
    }

    /// A file streamed by the server.
    pub fn file(path: impl Into<PathBuf>, headers: Vec<(String, String)>) -> Self {
        HttpResponse { status: 200, headers, body: HttpBody::File(path.into()) }
    }
}

/// How important a log line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Something failed.
    Error,
    /// Something is wrong but the capability goes on.
    Warn,
    /// Normal operation.
    Info,
    /// Details for debugging.
    Debug,
    /// Even more details.
    Trace,
}

impl Level {
    /// Its number on the wire.
    pub(crate) fn to_u8(self) -> u8 {
        self as u8
    }

    /// From its number on the wire (unknown numbers are `Info`).
    pub(crate) fn from_u8(n: u8) -> Level {
        match n {
            0 => Level::Error,
            1 => Level::Warn,
            3 => Level::Debug,
            4 => Level::Trace,
            _ => Level::Info,
        }
    }
}

/// Everything the server needs to know about a loaded capability (server side:
/// see [`crate::loader::Info`]; authors declare these through [`crate::Capability`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    /// Its name (`/NAME`); equals the `NAME` in `libdmcap_NAME.so`.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Its commands, in help order.
    pub commands: Vec<Command>,
    /// True when the server must ask it before each delivery.
    pub filters_delivery: bool,
    /// Server-to-server message types it handles.
    pub s2s_types: Vec<String>,
    /// HTTP path prefixes it serves on the main port.
    pub http_prefixes: Vec<String>,
    /// Largest HTTP request body it accepts, in bytes.
    pub http_max_body: u64,
    /// Seconds between calls of its tick hook; 0 = never.
    pub tick_secs: u64,
    /// True when it wants each local room line (0.1.1).
    pub room_lines: bool,
    /// True when it wants to hear of sessions joining local rooms (0.1.1).
    pub room_joins: bool,
    /// True when it wants to hear of its storage changed by other nodes (0.1.2).
    pub kv_changes: bool,
    /// True when it wants request bodies streamed to a file (0.1.3).
    pub http_body_file: bool,
}

impl Info {
    /// Help for `/NAME`: one line per command.
    pub fn help(&self) -> String {
        let lines: Vec<String> = self.commands.iter().map(|c| c.help_line(&self.name)).collect();
        lines.join("\n")
    }
}
