//! Graceful shutdown waits for the sessions to end, as mini-redis does: each
//! session holds a [`Guard`] (a channel sender); when the last one is dropped,
//! [`Sessions::wait`] returns. No polling, nothing per idle session but the guard.

use std::time::Duration;
use tokio::sync::mpsc;

/// The receiving end: held by the running server.
pub struct Sessions {
    tx: mpsc::Sender<()>,
    rx: mpsc::Receiver<()>,
}

/// Hands out guards without keeping the channel open itself.
#[derive(Clone)]
pub struct Watch(mpsc::WeakSender<()>);

/// Held by one running session; dropping it says the session ended.
pub struct Guard(#[allow(dead_code)] mpsc::Sender<()>);

impl Default for Sessions {
    fn default() -> Self {
        let (tx, rx) = mpsc::channel(1);
        Sessions { tx, rx }
    }
}

impl Sessions {
    /// What listeners use to give each session a guard.
    pub fn watch(&self) -> Watch {
        Watch(self.tx.downgrade())
    }

    /// Waits until every guard is dropped, at most `limit`; false on timeout.
    pub async fn wait(self, limit: Duration) -> bool {
        let Sessions { tx, mut rx } = self;
        drop(tx);
        tokio::time::timeout(limit, rx.recv()).await.is_ok()
    }
}

impl Watch {
    /// A guard for a session starting now; `None` once shutdown has begun.
    pub fn guard(&self) -> Option<Guard> {
        self.0.upgrade().map(Guard)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waits_for_every_guard() {
        let sessions = Sessions::default();
        let watch = sessions.watch();
        let guard = watch.guard().unwrap();
        let task = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(30)).await;
            drop(guard);
        });
        assert!(sessions.wait(Duration::from_secs(5)).await);
        assert!(watch.guard().is_none());
        task.await.unwrap();
        let stuck = Sessions::default();
        let _held = stuck.watch().guard();
        assert!(!stuck.wait(Duration::from_millis(20)).await);
    }
}
