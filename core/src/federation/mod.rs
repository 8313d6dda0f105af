//! Server-to-server federation (WIRE §6): the core's view of it.
//!
//! The hub and commands call [`Federation`]; the network side implements it:
//! [`node`] (the implementation), [`client`] (outbound connections, queues,
//! retries), [`inbound`] (requests from peers), [`dialback`] and [`sent`]
//! (proof of origin), [`limits`] (dialback rate limits), [`addr`] (which
//! addresses may be dialled), [`liveness`] (pings and stale members),
//! [`messages`] (the JSON).

pub mod addr;
pub mod client;
pub mod dialback;
pub mod inbound;
pub mod limits;
pub mod liveness;
pub mod messages;
pub mod node;
pub mod sent;

use crate::config::FederationConfig;
use crate::hub::Hub;
use async_trait::async_trait;
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

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
    /// Chat.
    pub fn message(sender: &str, origin: &str, text: &str) -> Self {
        Self::new("message", sender, origin, text)
    }
    /// An action.
    pub fn act(sender: &str, origin: &str, text: &str) -> Self {
        Self::new("act", sender, origin, text)
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

/// Why a remote join failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinOutcome {
    /// Joined.
    Joined,
    /// No such subserver there, or the host cannot be reached.
    NoSuchRoom,
}

/// Outbound federation, as the core uses it. Fire-and-forget methods never block.
#[async_trait]
pub trait Federation: Send + Sync {
    /// `/pm user@host`.
    async fn send_pm(&self, sender: &str, user: &str, host: &str, text: &str) -> PmOutcome;
    /// First session of `user` joins `room@host`.
    async fn join_remote(&self, room: &str, host: &str, user: &str) -> JoinOutcome;
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
    fn post(&self, _host: &str, _json: Value) {}
    /// Serves one inbound server-to-server connection (its first byte was `{`).
    async fn serve_inbound(&self, mut stream: TcpStream, _peer: SocketAddr) {
        let _ = stream.write_all(b"{\"status\":\"error\",\"reason\":\"federation is disabled\"}\n").await;
    }
}

/// Federation switched off: every remote operation fails cleanly.
pub struct NoFederation;

#[async_trait]
impl Federation for NoFederation {
    async fn send_pm(&self, _: &str, _: &str, _: &str, _: &str) -> PmOutcome {
        PmOutcome::Failed
    }
    async fn join_remote(&self, _: &str, _: &str, _: &str) -> JoinOutcome {
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
}

/// Starts federation: installs the node into the hub and starts the liveness task.
/// `listen` is `[server] listen` (outbound connections start from its IP). Must run
/// inside the Tokio runtime.
pub fn start(cfg: &FederationConfig, listen: &str, hub: &Arc<Hub>) {
    let node = node::Node::new(cfg, listen, hub);
    if cfg.dialback_cache_secs.is_some() {
        tracing::warn!("[federation] dialback_cache_secs is ignored: every inbound message is verified on its own");
    }
    match node.out.settings().source_ip {
        Some(ip) => tracing::info!(%ip, "federation: outbound connections start from this address"),
        None => tracing::info!("federation: outbound connections start from the system's default address"),
    }
    for (host, addr) in &cfg.peers {
        if addr.parse::<SocketAddr>().is_err() && !addr.contains(':') {
            tracing::warn!(host, addr, "[federation] peers: address should look like ip:port");
        }
    }
    if hub.host() == "localhost" {
        tracing::warn!(
            "[server] host is \"localhost\": other hosts cannot reach this one; set it to this server's public name"
        );
    }
    hub.set_federation(node.clone());
    tracing::info!(host = %hub.host(), peer_port = cfg.peer_port, "federation enabled");
    tokio::spawn(liveness::run(node));
}

/// Serves one inbound server-to-server connection (its first byte was `{`).
pub async fn serve_inbound(hub: Arc<Hub>, stream: TcpStream, peer: SocketAddr) {
    hub.federation().serve_inbound(stream, peer).await;
}
