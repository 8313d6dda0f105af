//! Capability plugins, behind the core's [`crate::caps::Capabilities`]:
//! [`loader`] finds and starts them, [`host`] is what each may ask of the
//! server, [`registry`] is what the core calls, [`http`] serves their HTTP on
//! the main port, [`cap`] is one loaded capability and how it is called.
//!
//! Each name in `[capabilities] enabled` is loaded, in order, from
//! `DIR/libdmcap_NAME.so` (default DIR: the executable's directory). abi_stable
//! checks the plugin-api version and type layouts of each file; a file that is
//! missing, not a plugin, incompatible, misnamed, or whose init fails is skipped
//! with one log line, and the others load.
//!
//! Commands, s2s messages, HTTP requests and ticks run on the blocking pool
//! with a timeout (`[capabilities] command_timeout_ms`, default 10000) and at
//! most [`cap::MAX_CALLS`] at once per capability, so a slow or stuck
//! plugin never stalls unrelated sessions. The delivery filter and presence
//! hook are called inline: plugins keep them in-memory.

pub mod cap;
pub mod host;
pub mod http;
pub mod kv_feed;
pub mod loader;
pub mod registry;
pub mod reload;

pub use loader::{default_dir, describe_dir, file_name, load};
pub use registry::Registry;
