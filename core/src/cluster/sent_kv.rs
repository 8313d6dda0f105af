//! The records of sent federation messages in a NATS JetStream key-value bucket
//! (`dmc-sent-<host>`), so that every node can answer a dialback check about any
//! node's message, even after that node died. Entries expire after the record
//! lifetime (`sent_ids_secs`); the bucket is kept in the NATS server's file
//! store (memory stores reserve their whole size up front) and is bounded in
//! bytes (a full bucket refuses writes: the records then stay on their node,
//! the single-node path).

use crate::bus::{BoxFuture, SharedSent};
use async_nats::jetstream::{self, kv};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;

/// Most bytes the bucket of sent-message records holds (a record is about 300 bytes).
pub const SENT_BYTES: i64 = 64 * 1024 * 1024;
/// How long one store call may take before it counts as failed.
pub(super) const CALL: Duration = Duration::from_secs(2);

/// One host's bucket.
pub struct SentKv {
    store: kv::Store,
    client: async_nats::Client,
}

impl SentKv {
    /// Cut off from NATS: the store cannot answer, so nobody waits for it.
    fn up(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }
}

/// A bucket name for `kind` and `host`: names allow letters, digits, `-` and `_` only.
pub fn bucket(kind: &str, host: &str) -> String {
    let plain: String =
        host.chars().take(40).map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
    let hash: String = Sha256::digest(host.as_bytes()).iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("dmc-{kind}-{plain}-{hash}")
}

/// Opens (or creates) the bucket `name` of at most `max_bytes` whose entries live `ttl`.
pub async fn open_bucket(
    client: async_nats::Client,
    name: &str,
    what: &str,
    ttl: Duration,
    max_bytes: i64,
) -> Result<kv::Store, String> {
    let js = jetstream::new(client);
    let open = async {
        if let Ok(store) = js.get_key_value(name).await {
            return Ok(store);
        }
        let cfg = kv::Config {
            bucket: name.to_owned(),
            description: format!("dmconnect: {what}"),
            history: 1,
            max_age: ttl,
            max_bytes,
            storage: jetstream::stream::StorageType::File,
            ..Default::default()
        };
        match js.create_key_value(cfg).await {
            Ok(store) => Ok(store),
            // Another node created it at the same moment.
            Err(e) => js.get_key_value(name).await.map_err(|_| e.to_string()),
        }
    };
    tokio::time::timeout(CALL * 2, open).await.map_err(|_| "timed out".to_string())?
}

/// Opens `host`'s bucket of sent-message records with entries living `ttl`.
pub async fn open(client: async_nats::Client, host: &str, ttl: Duration) -> Result<Arc<dyn SharedSent>, String> {
    let name = bucket("sent", host);
    let store = open_bucket(client.clone(), &name, "sent federation messages, for dialback", ttl, SENT_BYTES).await?;
    tracing::info!(bucket = %name, ttl_secs = ttl.as_secs(), "cluster: sent-message records in JetStream key-value");
    Ok(Arc::new(SentKv { store, client }))
}

impl SharedSent for SentKv {
    fn put(&self, key: String, value: Vec<u8>) -> BoxFuture<'static, bool> {
        let (store, up) = (self.store.clone(), self.up());
        Box::pin(async move {
            if !up {
                return false;
            }
            match tokio::time::timeout(CALL, store.put(key, value.into())).await {
                Ok(Ok(_)) => true,
                Ok(Err(e)) => {
                    tracing::debug!("cluster: sent-message record not stored: {e}");
                    false
                }
                Err(_) => false,
            }
        })
    }

    fn get(&self, key: String) -> BoxFuture<'static, Option<(Vec<u8>, u64)>> {
        let (store, up) = (self.store.clone(), self.up());
        Box::pin(async move {
            if !up {
                return None;
            }
            match tokio::time::timeout(CALL, store.entry(key)).await {
                Ok(Ok(Some(e))) if e.operation == kv::Operation::Put => Some((e.value.to_vec(), e.revision)),
                Ok(Err(e)) => {
                    tracing::debug!("cluster: sent-message record not read: {e}");
                    None
                }
                _ => None,
            }
        })
    }

    fn update(&self, key: String, value: Vec<u8>, revision: u64) -> BoxFuture<'static, Option<bool>> {
        let store = self.store.clone();
        Box::pin(async move {
            match tokio::time::timeout(CALL, store.update(key, value.into(), revision)).await {
                Ok(Ok(_)) => Some(true),
                Ok(Err(e)) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => Some(false),
                Ok(Err(e)) => {
                    tracing::debug!("cluster: sent-message record not updated: {e}");
                    None
                }
                Err(_) => None,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn bucket_names_are_valid() {
        let b = super::bucket("sent", "chat.example.org");
        assert!(b.starts_with("dmc-sent-chat_example_org-"));
        assert!(b.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_ne!(super::bucket("sent", "a.b"), super::bucket("sent", "a_b"));
    }
}
