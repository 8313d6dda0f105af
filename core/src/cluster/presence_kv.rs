//! Which nodes have sessions of an account in a local subserver, in a NATS
//! JetStream key-value bucket (`dmc-rooms-<host>`), changed by compare-and-set
//! on the entry's revision: so of two nodes where one account joins (or
//! leaves) at the same moment, exactly one sees itself first (or last) and
//! tells the member hosts. Nodes that are not live are dropped from an entry
//! whenever it is written. Entries not written for a day expire; each node
//! rewrites those of its members every hour, so only entries of accounts gone
//! from every node do.

use super::sent_kv::CALL;
use async_nats::jetstream::kv;
use std::collections::BTreeSet;

/// Attempts when other nodes write the same entry at the same time.
const TRIES: usize = 8;

/// The entry key of `account` in `room`: hex, as keys allow few characters.
pub fn key(room: &str, account: &str) -> String {
    let hex = |s: &str| s.bytes().map(|b| format!("{b:02x}")).collect::<String>();
    format!("{}.{}", hex(room), hex(account))
}

/// Adds (`present`) or removes node `me` in the entry `key`; `live` are the
/// other live nodes. Returns whether no live node was there before (joining)
/// or none is left after (leaving); `None` when the store failed.
pub async fn change(store: kv::Store, key: String, me: String, live: Vec<String>, present: bool) -> Option<bool> {
    for _ in 0..TRIES {
        let entry = tokio::time::timeout(CALL, store.entry(key.clone())).await.ok()?.ok()?;
        let (mut nodes, rev): (BTreeSet<String>, Option<u64>) = match entry {
            Some(e) if e.operation == kv::Operation::Put => {
                (serde_json::from_slice(&e.value).unwrap_or_default(), Some(e.revision))
            }
            Some(e) => (BTreeSet::new(), Some(e.revision)),
            None => (BTreeSet::new(), None),
        };
        nodes.retain(|n| *n == me || live.contains(n));
        let was_empty = nodes.is_empty();
        if present {
            nodes.insert(me.clone());
        } else {
            nodes.remove(&me);
        }
        let verdict = if present { was_empty } else { nodes.is_empty() };
        let body: bytes::Bytes = serde_json::to_vec(&nodes).ok()?.into();
        let raced = match rev {
            Some(r) => match tokio::time::timeout(CALL, store.update(&key, body, r)).await.ok()? {
                Ok(_) => false,
                Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => true,
                Err(e) => {
                    tracing::debug!("cluster: room presence not written: {e}");
                    return None;
                }
            },
            None => match tokio::time::timeout(CALL, store.create(&key, body)).await.ok()? {
                Ok(_) => false,
                Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => true,
                Err(e) => {
                    tracing::debug!("cluster: room presence not written: {e}");
                    return None;
                }
            },
        };
        if !raced {
            return Some(verdict);
        }
    }
    None
}
