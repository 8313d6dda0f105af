//! What the core asks of other hosts (federation, protocol.md §9), as a trait the hub
//! and the commands call. `federation::node::Node` implements it;
//! [`NoFederation`] stands in when federation is off. A leaf module: it
//! imports nothing of the crate, so neither side depends on the other.

use async_trait::async_trait;
use serde_json::Value;
use std::sync::Arc;

/// A room event as carried by `room_event`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomEvent {
    /// `joined`, `left`, `message` or `act`.
    pub event: String,
    /// Account name on its home host.
    pub sender: String,
    /// The sender's home host.
    pub sender_origin: String,
    /// Chat text or action (empty for joined/left).
    pub text: String,
}

impl RoomEvent {
    fn new(event: &str, sender: &str, origin: &str, text: &str) -> Self {
        RoomEvent { event: event.into(), sender: sender.into(), sender_origin: origin.into(), text: text.into() }
    }
    /// A join.
    pub fn joined(sender: &str, origin: &str) -> Self {
        Self::new("joined", sender, origin, "")
    }
    /// A leave.
    pub fn left(sender: &str, origin: &str) -> Self {
        Self::new("left", sender, origin, "")
    }
    /// Chat (`is_act == false`) or an action.
    pub fn said(sender: &str, origin: &str, text: &str, is_act: bool) -> Self {
        Self::new(if is_act { "act" } else { "message" }, sender, origin, text)
    }
}

/// How a remote private message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PmOutcome {
    /// Delivered.
    Sent,
    /// The remote host has no such account.
    NoSuchUser,
    /// Offline, unreachable, refused or timed out.
    Failed,
}

/// How a remote join went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinOutcome {
    /// Joined.
    Joined,
    /// No such subserver there, or the host cannot be reached.
    NoSuchRoom,
}

/// Runs once the home host accepted a join, before any event of the room is shown.
pub type OnJoined<'a> = Box<dyn FnOnce() + Send + 'a>;

/// Outbound federation, as the core uses it. Fire-and-forget methods never block.
#[async_trait]
pub trait Federation: Send + Sync {
    /// `/pm user@host`.
    async fn send_pm(&self, sender: &str, user: &str, host: &str, text: &str) -> PmOutcome;
    /// First session of `user` joins `room@host`. On success `on_joined` runs
    /// (it puts the session in the room) before events of the room that arrived
    /// meanwhile are shown, so the join reply comes before the join's echo.
    async fn join_remote(&self, room: &str, host: &str, user: &str, on_joined: OnJoined<'_>) -> JoinOutcome;
    /// Last session of `user` left `room@host` (fire and forget).
    fn leave_remote(&self, room: &str, host: &str, user: &str);
    /// Chat or action into `room@host`; false if it could not be handed over.
    async fn say_remote(&self, room: &str, host: &str, user: &str, text: &str, is_act: bool) -> bool;
    /// `/members` of `room@host`, displayed relative to this host; `None` on failure.
    async fn members(&self, room: &str, host: &str) -> Option<Vec<String>>;
    /// Fans a local subserver's event out to member hosts (fire and forget).
    fn room_event(&self, room: &str, hosts: Vec<Arc<str>>, event: RoomEvent);
    /// A raw request to another host (capabilities); adds `from_host` and `msg_id`.
    async fn request(&self, host: &str, json: Value) -> Result<Value, String>;
    /// A fire-and-forget request to another host (capabilities' `s2s_send`): queued in
    /// order per peer, retried on network failure; adds `from_host` and `msg_id`.
    fn post(&self, host: &str, json: Value);
    /// Another node of the cluster forwards a `dialback_check`: this node's verdict
    /// (counted as a vouching), or `None` if it did not send that message.
    fn vouch_here(&self, _check: &Value) -> Option<bool> {
        None
    }
}

/// Federation switched off: every remote operation fails cleanly.
pub struct NoFederation;

#[async_trait]
impl Federation for NoFederation {
    async fn send_pm(&self, _: &str, _: &str, _: &str, _: &str) -> PmOutcome {
        PmOutcome::Failed
    }
    async fn join_remote(&self, _: &str, _: &str, _: &str, _: OnJoined<'_>) -> JoinOutcome {
        JoinOutcome::NoSuchRoom
    }
    fn leave_remote(&self, _: &str, _: &str, _: &str) {}
    async fn say_remote(&self, _: &str, _: &str, _: &str, _: &str, _: bool) -> bool {
        false
    }
    async fn members(&self, _: &str, _: &str) -> Option<Vec<String>> {
        None
    }
    fn room_event(&self, _: &str, _: Vec<Arc<str>>, _: RoomEvent) {}
    async fn request(&self, _: &str, _: Value) -> Result<Value, String> {
        Err("federation is disabled".into())
    }
    fn post(&self, _: &str, _: Value) {}
}

/// `name` or `name@host`: how an account or a subserver of another host is shown.
pub fn qualified(name: &str, host: Option<&str>) -> String {
    match host {
        None => name.to_owned(),
        Some(h) => format!("{name}@{h}"),
    }
}
