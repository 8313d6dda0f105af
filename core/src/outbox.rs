//! A session's bounded outbound queue. Producers (delivery) only push; the
//! session's writer task drains it in batches. Never awaits while locked.
//!
//! Two marks: past half the bound the queue is *busy* (a sender whose line made
//! it so waits, unread, until it drains below a quarter: see `hub::pushback`);
//! past the bound itself the session is dropped.

use bytes::Bytes;
use std::collections::VecDeque;
use std::sync::Mutex;
use tokio::sync::Notify;

/// Extra messages a session's own replies may queue past the bound.
pub const REPLY_HEADROOM_MESSAGES: usize = 256;
/// Extra bytes a session's own replies may queue past the bound.
pub const REPLY_HEADROOM_BYTES: usize = 1024 * 1024;

/// Why an outbox stopped taking messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    /// Still open.
    No,
    /// Closed on purpose: the writer sends what is queued, then ends.
    Graceful,
    /// The client did not read fast enough: dropped at once.
    Overflow,
}

struct Queue {
    items: VecDeque<Bytes>,
    bytes: usize,
    closed: Closed,
}

/// What became of a pushed message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// Queued for the writer.
    Queued,
    /// Queued, and the queue is now busy: the sender should wait for it to drain.
    Busy,
    /// Dropped: the outbox was already closed.
    Closed,
    /// Dropped, and this push overflowed the queue (it is now closed).
    Overflowed,
}

/// The bounded queue between delivery and one socket writer.
pub struct Outbox {
    queue: Mutex<Queue>,
    ready: Notify,
    /// Fired when a busy queue drains below the resume mark (or closes).
    drained: Notify,
    max_messages: usize,
    max_bytes: usize,
}

impl Outbox {
    /// An empty queue with the given bounds.
    pub fn new(max_messages: usize, max_bytes: usize) -> Self {
        Outbox {
            queue: Mutex::new(Queue { items: VecDeque::new(), bytes: 0, closed: Closed::No }),
            ready: Notify::new(),
            drained: Notify::new(),
            max_messages,
            max_bytes,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        crate::sync::lock(&self.queue)
    }

    /// Queues one message (ending in `\n`).
    pub fn push(&self, msg: Bytes) -> Pushed {
        self.push_within(msg, 0, 0)
    }

    /// Over half the bound: whoever fills it should wait.
    fn over_pause(&self, q: &Queue) -> bool {
        q.items.len() > self.max_messages / 2 || q.bytes > self.max_bytes / 2
    }

    /// Still over a quarter of the bound: waiting senders keep waiting.
    fn over_resume(&self, q: &Queue) -> bool {
        q.items.len() > self.max_messages / 4 || q.bytes > self.max_bytes / 4
    }

    /// True while waiting senders should go on waiting (busy and open).
    pub fn busy(&self) -> bool {
        let q = self.lock();
        q.closed == Closed::No && self.over_resume(&q)
    }

    /// Waits until the queue drains below the resume mark or closes; returns at
    /// once if it is not busy. Registered before checking, so no wake-up is lost.
    pub async fn drained(&self) {
        let wait = self.drained.notified();
        tokio::pin!(wait);
        wait.as_mut().enable();
        if self.busy() {
            wait.await;
        }
    }

    /// Queues a reply to the session's own command: it may go past the bounds by
    /// [`REPLY_HEADROOM_MESSAGES`] / [`REPLY_HEADROOM_BYTES`], so a client that reads
    /// its replies is never dropped for asking; one that never reads still is.
    pub fn push_reply(&self, msg: Bytes) -> Pushed {
        self.push_within(msg, REPLY_HEADROOM_MESSAGES, REPLY_HEADROOM_BYTES)
    }

    fn push_within(&self, msg: Bytes, extra_messages: usize, extra_bytes: usize) -> Pushed {
        let mut q = self.lock();
        if q.closed != Closed::No {
            return Pushed::Closed;
        }
        if q.items.len() >= self.max_messages + extra_messages || q.bytes + msg.len() > self.max_bytes + extra_bytes {
            drop(q);
            self.fail();
            return Pushed::Overflowed;
        }
        let was_empty = q.items.is_empty();
        q.bytes += msg.len();
        q.items.push_back(msg);
        let busy = extra_messages == 0 && self.over_pause(&q);
        drop(q);
        // The writer drains everything at once, so one wake-up per batch is enough.
        if was_empty {
            self.ready.notify_one();
        }
        if busy {
            Pushed::Busy
        } else {
            Pushed::Queued
        }
    }

    /// Drops everything queued and stops at once: the client is not reading.
    pub fn fail(&self) {
        let mut q = self.lock();
        q.closed = Closed::Overflow;
        q.items = VecDeque::new();
        q.bytes = 0;
        drop(q);
        self.ready.notify_one();
        self.drained.notify_waiters();
    }

    /// Stops taking messages; the writer finishes what is queued.
    pub fn close(&self) {
        let mut q = self.lock();
        if q.closed == Closed::No {
            q.closed = Closed::Graceful;
        }
        drop(q);
        self.ready.notify_one();
        self.drained.notify_waiters();
    }

    /// How (and whether) the outbox was closed.
    pub fn closed(&self) -> Closed {
        self.lock().closed
    }

    /// Waits for queued messages and moves them into `batch` (at most `max` of them).
    /// Returns `Closed::No` while the writer should go on writing.
    pub async fn next_batch(&self, batch: &mut Vec<Bytes>, max: usize) -> Closed {
        loop {
            {
                let mut q = self.lock();
                if q.closed == Closed::Overflow {
                    return Closed::Overflow;
                }
                if !q.items.is_empty() {
                    let n = q.items.len().min(max);
                    let was_busy = self.over_resume(&q);
                    let q = &mut *q;
                    for m in q.items.drain(..n) {
                        q.bytes -= m.len();
                        batch.push(m);
                    }
                    // Idle sessions keep no buffers: thousands of them add up.
                    if q.items.is_empty() {
                        q.items = VecDeque::new();
                    }
                    if was_busy && !self.over_resume(q) {
                        self.drained.notify_waiters();
                    }
                    return Closed::No;
                }
                if q.closed == Closed::Graceful {
                    return Closed::Graceful;
                }
            }
            self.ready.notified().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bounded_and_batched() {
        let o = Outbox::new(3, 1 << 20);
        assert_eq!(o.push(Bytes::from_static(b"a\n")), Pushed::Queued);
        assert_eq!(o.push(Bytes::from_static(b"b\n")), Pushed::Busy);
        let mut batch = Vec::new();
        assert_eq!(o.next_batch(&mut batch, 64).await, Closed::No);
        assert_eq!(batch.len(), 2);
        for _ in 0..3 {
            assert_ne!(o.push(Bytes::from_static(b"x\n")), Pushed::Overflowed);
        }
        assert_eq!(o.push(Bytes::from_static(b"y\n")), Pushed::Overflowed);
        assert_eq!(o.push(Bytes::from_static(b"z\n")), Pushed::Closed);
        assert_eq!(o.next_batch(&mut batch, 64).await, Closed::Overflow);
    }

    #[tokio::test]
    async fn busy_past_half_until_below_a_quarter() {
        let o = Outbox::new(8, 1 << 20);
        for _ in 0..4 {
            assert_eq!(o.push(Bytes::from_static(b"a\n")), Pushed::Queued);
        }
        assert_eq!(o.push(Bytes::from_static(b"b\n")), Pushed::Busy);
        assert_eq!(o.push_reply(Bytes::from_static(b"r\n")), Pushed::Queued);
        assert!(o.busy());
        let mut batch = Vec::new();
        assert_eq!(o.next_batch(&mut batch, 4).await, Closed::No);
        assert!(!o.busy());
        o.drained().await;
    }

    #[tokio::test]
    async fn replies_have_headroom() {
        let o = Outbox::new(2, 1 << 20);
        o.push(Bytes::from_static(b"a\n"));
        o.push(Bytes::from_static(b"b\n"));
        assert_eq!(o.push_reply(Bytes::from_static(b"reply\n")), Pushed::Queued);
        assert_eq!(o.push(Bytes::from_static(b"c\n")), Pushed::Overflowed);
    }

    #[tokio::test]
    async fn graceful_close_drains_first() {
        let o = Outbox::new(10, 1 << 20);
        o.push(Bytes::from_static(b"a\n"));
        o.close();
        let mut batch = Vec::new();
        assert_eq!(o.next_batch(&mut batch, 64).await, Closed::No);
        assert_eq!(o.next_batch(&mut batch, 64).await, Closed::Graceful);
    }
}
