//! The DMconnect server: a chat server speaking the DMconnect protocol, with
//! capabilities loaded from plugins and federation between hosts.

pub mod auth;
pub mod caps;
pub mod commands;
pub mod config;
pub mod control;
pub mod discover;
pub mod extensions;
pub mod federation;
pub mod framing;
pub mod gate;
pub mod http;
pub mod hub;
pub mod limits;
pub mod logging;
pub mod metrics;
pub mod names;
pub mod outbox;
pub mod plugins;
pub mod reload;
pub mod replies;
pub mod rlimit;
pub mod server;
pub mod session;
pub mod store;
pub mod transport;
