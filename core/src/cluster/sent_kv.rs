//! The records of sent federation messages in a NATS JetStream key-value bucket
//! (`dmc-sent-<host>`), so that every node can answer a dialback check about any
//! node's message, even after that node died. Entries expire after the record
//! lifetime (`sent_ids_secs`); the bucket lives in the NATS server's memory and
//! is bounded in bytes (a full bucket refuses writes: the records then stay on
//! their node, the single-node path).

use crate::bus::{BoxFuture, SharedSent};
use async_nats::jetstream::{self, kv};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;

/// Most bytes a bucket holds (a record is about 300 bytes).
const MAX_BYTES: i64 = 256 * 1024 * 1024;
/// How long one store call may take before it counts as failed.
pub(super) const CALL: Duration = Duration::from_secs(2);

/// One host's bucket.
pub struct SentKv {
    store: kv::Store,
}

/// A bucket name for `kind` and `host`: names allow letters, digits, `-` and `_` only.
pub fn bucket(kind: &str, host: &str) -> String {
    let plain: String =
        host.chars().take(40).map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
    let hash: String = Sha256::digest(host.as_bytes()).iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("dmc-{kind}-{plain}-{hash}")
}

/// Opens (or creates) the in-memory bucket `name` whose entries live `ttl`.
pub async fn open_bucket(
    client: async_nats::Client,
    name: &str,
    what: &str,
    ttl: Duration,
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
            max_bytes: MAX_BYTES,
            storage: jetstream::stream::StorageType::Memory,
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
    let store = open_bucket(client, &name, "sent federation messages, for dialback", ttl).await?;
    tracing::info!(bucket = %name, ttl_secs = ttl.as_secs(), "cluster: sent-message records in JetStream key-value");
    Ok(Arc::new(SentKv { store }))
}

impl SharedSent for SentKv {
    fn put(&self, key: String, value: Vec<u8>) -> BoxFuture<'static, bool> {
        let store = self.store.clone();
        Box::pin(async move {
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
        let store = self.store.clone();
        Box::pin(async move {
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
