//! Server-to-server federation (protocol.md §9): the network side of
//! [`crate::remote::Federation`].
//!
//! [`node`] implements the trait (the visiting side and event fan-out);
//! [`client`] makes outbound connections (queues, retries); [`inbound`] serves
//! requests from peers; [`home`] is the hub side of remote rooms; [`joins`]
//! holds events while a remote join is in flight; [`dialback`] and [`sent`]
//! prove origin; [`limits`] rate-limits dialbacks; [`addr`] says which
//! addresses may be dialled; [`liveness`] pings member hosts; [`messages`] is
//! the JSON.

pub mod addr;
pub mod client;
pub mod dialback;
pub mod home;
pub mod inbound;
pub mod joins;
pub mod limits;
pub mod liveness;
pub mod messages;
pub mod node;
pub mod sent;
pub mod settings;

use crate::config::FederationConfig;
use crate::hub::Hub;
use node::Node;
use std::net::SocketAddr;
use std::sync::Arc;

/// Starts federation: installs the node into the hub and starts the liveness task.
/// `listen` is `[server] listen` (outbound connections start from its IP). Must run
/// inside the Tokio runtime. The node serves inbound connections.
pub fn start(cfg: &FederationConfig, listen: &str, hub: &Arc<Hub>) -> Arc<Node> {
    let node = Node::new(cfg, listen, hub);
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
    tokio::spawn(liveness::run(node.clone()));
    node
}

/// In a cluster, keeps the records of sent messages in the cluster's shared
/// store (JetStream KV) so every node answers dialback checks about them;
/// without JetStream, each node keeps its own and the others ask it over NATS.
pub async fn share_sent(node: &Node, hub: &Hub) {
    let Some(open) = hub.bus().sent_store(node.sent.ttl()) else { return };
    match open.await {
        Ok(store) => {
            node.sent.set_shared(store);
            tracing::info!("federation: records of sent messages are shared by the cluster (JetStream key-value)");
        }
        Err(e) => tracing::warn!(
            "federation: no JetStream key-value store ({e}); each node keeps its own records of sent messages \
             and dialback checks about another node's message are forwarded to it over NATS"
        ),
    }
}
