//! A session's bounded outbound queue. Producers (delivery) only push; never
//! awaits while locked.
//!
//! Two ways out. TLS, WebSocket and the legacy port have a writer task that
//! drains the queue in batches ([`Outbox::next_batch`]). Plain TCP sessions are
//! *direct* ([`Outbox::set_direct`]): they have no writer task; the first line
//! queued into an empty outbox wakes the session's own task, which writes
//! everything queued by then as one buffer ([`Outbox::write_now`]) and, when
//! the socket is full, the rest once it drains. One task per idle session
//! instead of two. (Senders writing recipients' sockets themselves was tried and
//! dropped: more CPU flat out and a worse paced p99; see bench/README.md.)
//!
//! Two marks: past half the bound the queue is *busy* (a sender whose line made
//! it so waits, unread, until it drains below a quarter: see `hub::pushback`);
//! past the bound itself the session is dropped.

use bytes::Bytes;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::Notify;

use crate::signal::Signal;

/// Most messages the session task writes at once (as the writer task did).
const OWNED_BATCH: usize = 256;

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
    /// Bytes queued; bounded by `max_bytes` plus the reply headroom.
    bytes: u32,
    closed: Closed,
    /// Plain TCP: the socket that queued lines are written to directly.
    direct: Option<Arc<TcpStream>>,
    /// Direct only: the session task has been asked to write (and has not emptied the queue yet).
    owed: bool,
}

/// What [`Outbox::write_now`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wrote {
    /// Nothing to do here (not direct, or dropped for overflow).
    Nothing,
    /// Everything queued is on the socket.
    All,
    /// The socket is full: the rest stays queued for when it drains.
    Backlog,
    /// The socket is broken: the queue was dropped and closed.
    Failed,
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
    /// Wakes the one task that writes: the writer task, or (direct) the session task.
    ready: Signal,
    /// Fired when a busy queue drains below the resume mark (or closes).
    drained: Notify,
    // u32: with the bytes queued, one word fewer in every session.
    max_messages: u32,
    max_bytes: u32,
    /// Milliseconds since [`EPOCH`] the socket last accepted bytes (or a write
    /// began); [`IDLE`] while nothing waits to be written.
    progress: AtomicU64,
}

/// `progress` while nothing waits to be written.
const IDLE: u64 = u64::MAX;

/// The server's clock for idle timeouts and stalled writers.
static EPOCH: once_cell::sync::Lazy<Instant> = once_cell::sync::Lazy::new(Instant::now);

/// Milliseconds since the server's clock started.
pub(crate) fn now_ms() -> u64 {
    EPOCH.elapsed().as_millis() as u64
}

impl Outbox {
    /// An empty queue with the given bounds.
    pub fn new(max_messages: usize, max_bytes: usize) -> Self {
        Outbox {
            queue: Mutex::new(Queue {
                items: VecDeque::new(),
                bytes: 0,
                closed: Closed::No,
                direct: None,
                owed: false,
            }),
            ready: Signal::default(),
            drained: Notify::new(),
            max_messages: u32::try_from(max_messages).unwrap_or(u32::MAX),
            // Room for the reply headroom on top: the queued bytes fit in a u32.
            max_bytes: u32::try_from(max_bytes).unwrap_or(u32::MAX).min(u32::MAX / 2),
            progress: AtomicU64::new(IDLE),
        }
    }

    /// Makes the outbox direct: queued lines go to `sock` from [`write_now`](Self::write_now).
    pub fn set_direct(&self, sock: Arc<TcpStream>) {
        self.lock().direct = Some(sock);
    }

    /// The direct socket, if this outbox is direct and still attached.
    pub fn direct(&self) -> Option<Arc<TcpStream>> {
        self.lock().direct.clone()
    }

    /// Forgets the direct socket (the session ended), so lingering handles do not keep it open.
    pub fn detach(&self) -> Option<Arc<TcpStream>> {
        self.lock().direct.take()
    }

    /// Records that the socket accepted bytes (or a write began).
    pub fn progressed(&self) {
        self.progress.store(now_ms(), Ordering::Relaxed);
    }

    /// Records that nothing waits to be written (so nothing can stall).
    pub fn write_idle(&self) {
        self.progress.store(IDLE, Ordering::Relaxed);
    }

    /// How long the socket has not accepted bytes while some waited; zero while idle.
    pub fn stalled_for(&self) -> Duration {
        match self.progress.load(Ordering::Relaxed) {
            IDLE => Duration::ZERO,
            at => Duration::from_millis(now_ms().saturating_sub(at)),
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
        q.items.len() > self.max_messages as usize / 2 || q.bytes > self.max_bytes / 2
    }

    /// Still over a quarter of the bound: waiting senders keep waiting.
    fn over_resume(&self, q: &Queue) -> bool {
        q.items.len() > self.max_messages as usize / 4 || q.bytes > self.max_bytes / 4
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
        if q.items.len() >= self.max_messages as usize + extra_messages
            || q.bytes as usize + msg.len() > self.max_bytes as usize + extra_bytes
        {
            drop(q);
            self.fail();
            return Pushed::Overflowed;
        }
        let was_empty = q.items.is_empty();
        // Fits: checked against the bounds above.
        q.bytes += msg.len() as u32;
        q.items.push_back(msg);
        let busy = extra_messages == 0 && self.over_pause(&q);
        // One wake-up per batch: the writer (or, direct, the session task) takes
        // everything queued at once. Direct: while a write is owed nobody asks again.
        let wake = was_empty && !q.owed;
        if wake && q.direct.is_some() {
            q.owed = true;
            // The slow-reader clock starts when a write is owed.
            self.progressed();
        }
        drop(q);
        if wake {
            self.ready.notify_one();
        }
        if busy {
            Pushed::Busy
        } else {
            Pushed::Queued
        }
    }

    /// Direct: the session task's write. Takes up to [`OWNED_BATCH`] lines under the
    /// lock and writes them as one buffer *outside* it, so senders pushing meanwhile
    /// never wait on a system call; loops until the queue is empty or the socket is
    /// full (the rest stays queued: [`Wrote::Backlog`]). `owed` stays set throughout,
    /// so a push meanwhile wakes nobody: this loop looks again.
    pub fn write_now(&self) -> Wrote {
        loop {
            let (sock, batch) = {
                let mut q = self.lock();
                let Some(sock) = q.direct.clone() else { return Wrote::Nothing };
                if q.closed == Closed::Overflow {
                    return Wrote::Nothing;
                }
                if q.items.is_empty() {
                    // Idle sessions keep no buffers: thousands of them add up.
                    q.items = VecDeque::new();
                    q.owed = false;
                    self.write_idle();
                    return Wrote::All;
                }
                q.owed = true;
                let was_busy = self.over_resume(&q);
                let n = q.items.len().min(OWNED_BATCH);
                let batch: Vec<Bytes> = q.items.drain(..n).collect();
                q.bytes -= batch.iter().map(|m| m.len() as u32).sum::<u32>();
                let drained = was_busy && !self.over_resume(&q);
                drop(q);
                if drained {
                    self.drained.notify_waiters();
                }
                (sock, batch)
            };
            // One copy into one buffer is cheaper than many tiny iovecs in the kernel.
            let buf: Bytes = match batch.as_slice() {
                [one] => one.clone(),
                many => {
                    let mut joined = Vec::with_capacity(many.iter().map(|m| m.len()).sum());
                    for m in many {
                        joined.extend_from_slice(m);
                    }
                    joined.into()
                }
            };
            let accepted = match sock.try_write(&buf) {
                Ok(0) => None,
                Ok(k) => Some(k),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Some(0),
                Err(_) => None,
            };
            let Some(accepted) = accepted else {
                // Like a failed writer task: nothing more can be written; the session ends.
                let mut q = self.lock();
                q.items = VecDeque::new();
                q.bytes = 0;
                q.closed = Closed::Graceful;
                q.owed = false;
                drop(q);
                self.write_idle();
                self.drained.notify_waiters();
                return Wrote::Failed;
            };
            if accepted > 0 {
                self.progressed();
            }
            // Lines wholly on the socket.
            let mut end = 0;
            let written = batch.iter().take_while(|m| {
                end += m.len();
                end <= accepted
            });
            crate::metrics::M.deliveries_out.inc_by(written.count() as u64);
            if accepted < buf.len() {
                let rest = buf.slice(accepted..);
                let mut q = self.lock();
                if q.closed != Closed::Overflow {
                    q.bytes += rest.len() as u32;
                    q.items.push_front(rest);
                }
                return Wrote::Backlog;
            }
        }
    }

    /// Direct: waits until the session task owes a write.
    pub async fn owed(&self) {
        std::future::poll_fn(|cx| self.poll_owed(cx)).await
    }

    /// Direct: ready while the session task owes a write; otherwise registers
    /// the task's waker (the signal is looked at before the queue, so a push in
    /// between wakes it).
    pub fn poll_owed(&self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            let signalled = self.ready.poll_take(cx).is_ready();
            {
                let q = self.lock();
                if q.owed && q.closed != Closed::Overflow {
                    return Poll::Ready(());
                }
            }
            if !signalled {
                return Poll::Pending;
            }
        }
    }

    /// Drops everything queued and stops at once: the client is not reading.
    pub fn fail(&self) {
        let mut q = self.lock();
        q.closed = Closed::Overflow;
        q.items = VecDeque::new();
        q.bytes = 0;
        q.owed = false;
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
                        q.bytes -= m.len() as u32;
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

    /// A direct outbox on one end of a real loopback connection; the other end.
    async fn direct(max_messages: usize, max_bytes: usize) -> (Arc<TcpStream>, Outbox, TcpStream) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let client = TcpStream::connect(l.local_addr().expect("addr")).await.expect("connect");
        let (server, _) = l.accept().await.expect("accept");
        let sock = Arc::new(server);
        let o = Outbox::new(max_messages, max_bytes);
        o.set_direct(sock.clone());
        (sock, o, client)
    }

    /// True when the session task has been woken to write (without waiting).
    fn owed_now(o: &Outbox) -> bool {
        futures_util::FutureExt::now_or_never(o.owed()).is_some()
    }

    #[tokio::test]
    async fn direct_wakes_its_session_once_and_writes_in_order() {
        use tokio::io::AsyncReadExt;
        let (sock, o, mut client) = direct(16, 1 << 20).await;
        sock.writable().await.expect("writable");
        assert!(!owed_now(&o));
        assert_eq!(o.push(Bytes::from_static(b"a\n")), Pushed::Queued);
        assert!(owed_now(&o), "the first line asks the session task to write");
        assert_eq!(o.push(Bytes::from_static(b"b\n")), Pushed::Queued);
        assert_eq!(o.push_reply(Bytes::from_static(b"c\n")), Pushed::Queued);
        assert_eq!(o.write_now(), Wrote::All);
        assert!(!owed_now(&o), "written: nothing owed");
        assert_eq!(o.write_now(), Wrote::All, "nothing queued: nothing to write");
        let mut got = [0u8; 6];
        client.read_exact(&mut got).await.expect("read");
        assert_eq!(&got, b"a\nb\nc\n");
        assert_eq!(o.stalled_for(), Duration::ZERO);
    }

    #[tokio::test]
    async fn a_full_socket_keeps_the_rest_for_when_it_drains() {
        use tokio::io::AsyncReadExt;
        let (sock, o, mut client) = direct(1024, 64 << 20).await;
        sock.writable().await.expect("writable");
        // Far more than loopback buffers hold while nobody reads.
        let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
        let n = 256;
        for _ in 0..n {
            assert_ne!(o.push(chunk.clone()), Pushed::Overflowed);
        }
        assert_eq!(o.write_now(), Wrote::Backlog);
        assert!(owed_now(&o), "still owed while the socket is full");
        assert_eq!(o.push(Bytes::from_static(b"end\n")), Pushed::Queued);
        let reading = tokio::spawn(async move {
            let mut total = 0usize;
            let mut buf = vec![0u8; 1 << 16];
            let mut tail = Vec::new();
            loop {
                let k = client.read(&mut buf).await.expect("read");
                if k == 0 {
                    break;
                }
                total += k;
                tail.extend_from_slice(&buf[..k]);
                let keep = tail.len().saturating_sub(4);
                tail.drain(..keep);
                if tail == b"end\n" {
                    break;
                }
            }
            total
        });
        while o.write_now() == Wrote::Backlog {
            sock.writable().await.expect("writable");
        }
        assert_eq!(reading.await.expect("reader"), n * chunk.len() + 4);
        assert!(!owed_now(&o));
        assert_eq!(o.push(Bytes::from_static(b"again\n")), Pushed::Queued);
        assert!(owed_now(&o), "an empty outbox asks again");
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
