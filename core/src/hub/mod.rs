//! The shared state of the server, one owner per piece: `directory.rs` (who is
//! online), `rooms.rs` (subservers: join, leave, say) over `room.rs` (the
//! data), `delivery.rs` (the one place a line goes out), `handle.rs` (a
//! session's shared half), `pushback.rs` (senders wait for busy recipients),
//! `flush.rs` (senders write plain TCP recipients' queues once done), `state.rs`
//! (the fields everything above works on).
//!
//! The hub never awaits while holding a lock: it only pushes pre-formatted
//! bytes into session outboxes, and session tasks write them out afterwards
//! (`flush.rs`). It knows the
//! optional parts only through the leaf traits [`crate::caps::Capabilities`],
//! [`crate::remote::Federation`] and [`crate::bus::Bus`], so they depend on it
//! and never the other way round. `cluster.rs` applies what other nodes say.

mod cluster;
mod delivery;
mod directory;
mod handle;
pub mod pushback;
mod room;
mod rooms;
mod state;

pub use cluster::{Departures, NodeRemoteMembers, NodeRooms, RemoteRooms};
pub use handle::{line, SessionHandle};
pub use room::{Member, Room};
pub use rooms::Added;
pub use state::{Hub, HubSettings};

#[cfg(test)]
pub(crate) mod tests;
