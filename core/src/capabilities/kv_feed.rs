//! Storage changes made by other nodes of a cluster, handed one at a time and
//! in order to the capabilities that asked for them (`kv_changed`): two quick
//! changes of one key must not be re-read out of order.

use super::cap::{CallError, Cap};
use std::sync::Arc;
use std::time::Duration;
use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tracing::warn;

/// Changes waiting for their capability; beyond this they are dropped (logged).
const QUEUE: usize = 4096;

/// The sending end; the task stops when the registry (its owner) goes.
pub struct KvFeed {
    tx: mpsc::Sender<(Arc<Cap>, String)>,
}

impl KvFeed {
    /// Starts the task that calls the hooks, each within `limit`.
    pub fn start(rt: &Handle, limit: Duration) -> KvFeed {
        let (tx, mut rx) = mpsc::channel::<(Arc<Cap>, String)>(QUEUE);
        rt.spawn(async move {
            while let Some((cap, key)) = rx.recv().await {
                match cap.call(limit, move |p| p.kv_changed(&key)).await {
                    Ok(()) => {}
                    Err(CallError::Failed(e)) => warn!(capability = %cap.info.name, "kv_changed hook failed: {e}"),
                    Err(CallError::TimedOut) => warn!(capability = %cap.info.name, "kv_changed hook timed out"),
                }
            }
        });
        KvFeed { tx }
    }

    /// Queues one change for `cap`.
    pub fn push(&self, cap: Arc<Cap>, key: &str) {
        if self.tx.try_send((cap, key.to_owned())).is_err() {
            warn!("storage change feed full; a change from another node was dropped");
        }
    }
}
