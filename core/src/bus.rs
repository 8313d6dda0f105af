//! Leaf: what the hub tells the other nodes of a cluster, as the [`Bus`] trait
//! (`NoBus` on a single node). The NATS implementation is in `cluster/`;
//! what arrives from other nodes goes back in through `hub/cluster.rs`.

use serde::{Deserialize, Serialize};

/// Something that happened in a local subserver, for the other nodes' members.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum RoomMsg {
    /// A chat line or action by `user` (`origin`: a federated user's host).
    Said {
        /// Account name.
        user: String,
        /// Home host of a federated user; `None` for this host's accounts.
        origin: Option<String>,
        /// The text.
        text: String,
        /// `/act` rather than chat.
        act: bool,
    },
    /// The publishing node's first session of `account` joined (`origin` none), or
    /// a user of host `origin` joined through the publishing node (federation).
    Joined {
        /// Account name.
        account: String,
        /// Home host of a federated member.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        origin: Option<String>,
    },
    /// The publishing node's last session of `account` left, or a federated member left.
    Left {
        /// Account name.
        account: String,
        /// Home host of a federated member.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        origin: Option<String>,
    },
    /// The subserver was created.
    Created,
    /// The subserver was deleted.
    Deleted,
}

/// Something for the sessions of one account, wherever they are.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum UserMsg {
    /// A private message from `from`.
    Pm {
        /// `user` or `user@host`.
        from: String,
        /// The text.
        text: String,
    },
    /// Close every session with this last line (ban).
    Kick {
        /// The last line.
        text: String,
    },
}

/// The other nodes of this host.
pub trait Bus: Send + Sync {
    /// Tells every other node about a subserver event (one message, whatever the member count).
    fn room(&self, room: &str, msg: RoomMsg);
    /// Sends to the sessions of `account` on every other node.
    fn user(&self, account: &str, msg: UserMsg);
    /// Is `account` logged in on another node?
    fn online_elsewhere(&self, account: &str) -> bool;
    /// Distinct peer IPs of `account`'s sessions on other nodes.
    fn ips_elsewhere(&self, account: &str) -> Vec<std::net::IpAddr>;
    /// Why cross-node work cannot be done correctly now (`None`: the bus is up).
    fn trouble(&self) -> Option<String>;
    /// Tells the other nodes that capability `cap` changed `key` in its storage.
    fn kv_changed(&self, _cap: &str, _key: &str) {}
    /// Asks the other nodes to judge (and count) a federation `dialback_check` about
    /// a message this node did not send: `Some(verdict)` from the node that sent it,
    /// `None` if none did. `None` at once (no future) when there are no other nodes.
    fn vouch_elsewhere(&self, _check: serde_json::Value) -> Option<BoxFuture<'static, Option<bool>>> {
        None
    }
    /// An account of this node is joining (or left) `room@home`, a subserver of
    /// another host: the other nodes pass that room's events on to this one.
    fn remote_presence(&self, _room: &str, _home: &str, _account: &str, _present: bool) {}
    /// Has another node sessions in `room@home`?
    fn remote_elsewhere(&self, _room: &str, _home: &str) -> bool {
        false
    }
    /// Passes an event of `room@home` that its home host sent to this node on to the other nodes.
    fn remote_event(&self, _room: &str, _home: &str, _event: &crate::remote::RoomEvent) {}
    /// Records in a store shared by the nodes that this node has (`present`) or no
    /// longer has sessions of `account` in local subserver `room`. Resolves to
    /// whether this is the account's first (joining) or last (leaving) presence
    /// there cluster-wide, `None` when the store failed; no future without such a store.
    fn room_presence(&self, _room: &str, _account: &str, _present: bool) -> Option<BoxFuture<'static, Option<bool>>> {
        None
    }
    /// Opens the shared store for sent-message records, entries living `ttl`
    /// (`None`: a single node, nothing to share; `Err`: the cluster has none now).
    #[allow(clippy::type_complexity)]
    fn sent_store(
        &self,
        _ttl: std::time::Duration,
    ) -> Option<BoxFuture<'static, Result<std::sync::Arc<dyn SharedSent>, String>>> {
        None
    }
}

/// A key-value store every node of a cluster reads and writes, whose entries
/// expire by themselves: where federation keeps records of sent messages.
pub trait SharedSent: Send + Sync {
    /// Stores `value` under `key`; false when the store did not take it.
    fn put(&self, key: String, value: Vec<u8>) -> BoxFuture<'static, bool>;
    /// The value under `key` and its revision; `None` when absent or unreadable.
    fn get(&self, key: String) -> BoxFuture<'static, Option<(Vec<u8>, u64)>>;
    /// Replaces the value if `key` is still at `revision`: `Some(false)` when it
    /// moved on meanwhile, `None` when the store failed.
    fn update(&self, key: String, value: Vec<u8>, revision: u64) -> BoxFuture<'static, Option<bool>>;
}

/// What [`Bus::vouch_elsewhere`] returns.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// A single node: nobody else to tell.
pub struct NoBus;

impl Bus for NoBus {
    fn room(&self, _: &str, _: RoomMsg) {}
    fn user(&self, _: &str, _: UserMsg) {}
    fn online_elsewhere(&self, _: &str) -> bool {
        false
    }
    fn ips_elsewhere(&self, _: &str) -> Vec<std::net::IpAddr> {
        Vec::new()
    }
    fn trouble(&self) -> Option<String> {
        None
    }
}
