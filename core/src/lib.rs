//! The DMconnect server: a chat server speaking the DMconnect protocol, with
//! capabilities loaded from plugins and federation between hosts.

pub mod auth;
pub mod bus;
pub mod cap_calls;
pub mod capabilities;
pub mod caps;
pub mod cluster;
pub mod commands;
pub mod config;
pub mod context;
pub mod control;
pub mod discover;
pub mod federation;
pub mod framing;
pub mod gate;
pub mod http;
pub mod http_reply;
pub mod hub;
pub mod limits;
pub mod logging;
pub mod metrics;
pub mod names;
pub mod outbox;
pub mod reload;
pub mod remote;
pub mod replies;
pub mod rlimit;
pub mod server;
pub mod session;
pub mod shutdown;
pub mod signal;
pub mod store;
pub mod sync;
pub mod transport;
pub mod uploads;
