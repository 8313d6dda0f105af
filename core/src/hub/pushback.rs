//! Backpressure on senders. A delivery that leaves a recipient's queue busy
//! (see [`crate::outbox`]) notes that recipient in the *sending* session's
//! task; before that session reads its next message it waits until every noted
//! recipient drained, so a room's senders are slowed to what its members take
//! instead of its members being dropped. Nothing waits under a lock: the list
//! is only awaited by the session loop, after the command finished. Deliveries
//! made outside a session task (peer links, capabilities' timers) never wait.

use super::handle::SessionHandle;
use std::cell::RefCell;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

tokio::task_local! {
    static NOTED: RefCell<Vec<Arc<SessionHandle>>>;
}

/// A recipient whose socket accepted nothing for this long is not waited for:
/// one stalled reader must not stall its room (the slow-reader rule drops it).
pub const STALL: Duration = Duration::from_secs(1);

/// Runs a session's future with its own list of busy recipients. Not an
/// `async fn`: that would keep `f` twice in every idle session's future.
pub fn scope<F: Future>(f: F) -> impl Future<Output = F::Output> {
    NOTED.scope(RefCell::new(Vec::new()), f)
}

/// Notes a busy recipient for the current session task (if any).
pub(super) fn note(s: &Arc<SessionHandle>) {
    let _ = NOTED.try_with(|noted| {
        let mut noted = noted.borrow_mut();
        if !noted.iter().any(|n| n.id == s.id) {
            noted.push(s.clone());
        }
    });
}

/// True when the current session's last command left someone busy.
pub fn pending() -> bool {
    NOTED.try_with(|n| !n.borrow().is_empty()).unwrap_or(false)
}

/// Waits until every noted recipient drained, closed, or stalled for [`STALL`].
pub async fn wait() {
    let noted = NOTED.try_with(|n| std::mem::take(&mut *n.borrow_mut())).unwrap_or_default();
    for s in noted {
        wait_for(&s).await;
    }
}

async fn wait_for(s: &SessionHandle) {
    loop {
        let stalled = s.stalled_for();
        if stalled >= STALL {
            tracing::debug!(session = s.id, ?stalled, "not waiting for a stalled reader");
            return;
        }
        if tokio::time::timeout(STALL - stalled, s.outbox.drained()).await.is_ok() {
            return;
        }
    }
}
