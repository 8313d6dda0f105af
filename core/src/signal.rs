//! A wake-up for one waiting task: a flag and that task's waker. Unlike a
//! tokio `Notify`, waiting needs no future of its own (a `Notified` is 64
//! bytes), so an idle session can wait for its kick and its outbox inside one
//! small poll function.

use futures_util::task::AtomicWaker;
use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

/// Set by anyone, taken by the one task that waits on it.
#[derive(Default)]
pub struct Signal {
    set: AtomicBool,
    waker: AtomicWaker,
}

impl Signal {
    /// Sets the flag and wakes the waiting task; kept until taken (like
    /// `Notify::notify_one`'s permit).
    pub fn notify_one(&self) {
        self.set.store(true, Ordering::Release);
        self.waker.wake();
    }

    /// Ready (and cleared) once set. Registers the waker before the second look,
    /// so a set in between is never missed. One task only: a second waiter would
    /// replace the first's waker.
    pub fn poll_take(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.set.swap(false, Ordering::AcqRel) {
            return Poll::Ready(());
        }
        self.waker.register(cx.waker());
        if self.set.swap(false, Ordering::AcqRel) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    /// Waits until set, and clears it.
    pub async fn notified(&self) {
        poll_fn(|cx| self.poll_take(cx)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test]
    async fn a_set_before_waiting_is_kept_and_taken_once() {
        let s = Signal::default();
        s.notify_one();
        s.notified().await;
        let again = tokio::time::timeout(Duration::from_millis(20), s.notified()).await;
        assert!(again.is_err(), "taken once");
    }

    #[tokio::test]
    async fn wakes_a_task_waiting_in_another_thread() {
        let s = Arc::new(Signal::default());
        let waiter = tokio::spawn({
            let s = s.clone();
            async move { s.notified().await }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        s.notify_one();
        tokio::time::timeout(Duration::from_secs(5), waiter).await.expect("woken").expect("no panic");
    }
}
