//! A session's bounded outbound queue. Producers (delivery) only push; never
//! awaits while locked.
//!
//! Two ways out. TLS, WebSocket and the legacy port have a writer task that
//! drains the queue in batches ([`Outbox::next_batch`]). Plain TCP sessions are
//! *direct* ([`Outbox::set_direct`]): no task is woken per line; the sender that
//! queued into an idle outbox notes it (`hub::flush`) and, once it has handled
//! what it had read, writes the queue to the socket itself under this lock
//! ([`Outbox::write_now`]), which keeps lines in order across senders. What the
//! socket does not take becomes a *backlog* that the recipient's own session
//! task writes as the socket drains.
//!
//! Two marks: past half the bound the queue is *busy* (a sender whose line made
//! it so waits, unread, until it drains below a quarter: see `hub::pushback`);
//! past the bound itself the session is dropped.

use bytes::Bytes;
use std::collections::VecDeque;
use std::io::IoSlice;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::Notify;

/// Most messages handed to one vectored write.
const IOV: usize = 128;

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
    /// Plain TCP: the socket that queued lines are written to directly.
    direct: Option<Arc<TcpStream>>,
    /// Direct only: the socket did not take everything; the session task owns the rest.
    backlog: bool,
}

/// What [`Outbox::write_now`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wrote {
    /// Nothing to do here (not direct, closed, or the backlog belongs to the session task).
    Nothing,
    /// Everything queued is on the socket.
    All,
    /// The socket is full: the rest is a backlog and the session task was woken.
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
    ready: Notify,
    /// Fired when a busy queue drains below the resume mark (or closes).
    drained: Notify,
    max_messages: usize,
    max_bytes: usize,
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
                backlog: false,
            }),
            ready: Notify::new(),
            drained: Notify::new(),
            max_messages,
            max_bytes,
            progress: AtomicU64::new(IDLE),
        }
    }

    /// Makes the outbox direct: queued lines go to `sock` from [`write_now`](Self::write_now).
    pub fn set_direct(&self, sock: Arc<TcpStream>) {
        self.lock().direct = Some(sock);
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
        self.push_within(msg, 0, 0).0
    }

    /// Like [`push`](Self::push) (or [`push_reply`](Self::push_reply) when `reply`);
    /// the flag is true when someone must call [`write_now`](Self::write_now): the
    /// outbox is direct, was empty and has no backlog.
    pub fn push_flagged(&self, msg: Bytes, reply: bool) -> (Pushed, bool) {
        if reply {
            self.push_within(msg, REPLY_HEADROOM_MESSAGES, REPLY_HEADROOM_BYTES)
        } else {
            self.push_within(msg, 0, 0)
        }
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
        self.push_within(msg, REPLY_HEADROOM_MESSAGES, REPLY_HEADROOM_BYTES).0
    }

    fn push_within(&self, msg: Bytes, extra_messages: usize, extra_bytes: usize) -> (Pushed, bool) {
        let mut q = self.lock();
        if q.closed != Closed::No {
            return (Pushed::Closed, false);
        }
        if q.items.len() >= self.max_messages + extra_messages || q.bytes + msg.len() > self.max_bytes + extra_bytes {
            drop(q);
            self.fail();
            return (Pushed::Overflowed, false);
        }
        let was_empty = q.items.is_empty();
        q.bytes += msg.len();
        q.items.push_back(msg);
        let busy = extra_messages == 0 && self.over_pause(&q);
        // Direct: a non-empty queue was already noted by whoever queued first
        // (or is a backlog the session task writes), so only the first line asks.
        let direct = q.direct.is_some();
        let flush = direct && was_empty && !q.backlog;
        drop(q);
        // The writer drains everything at once, so one wake-up per batch is enough.
        if was_empty && !direct {
            self.ready.notify_one();
        }
        (if busy { Pushed::Busy } else { Pushed::Queued }, flush)
    }

    /// Writes what is queued to the direct socket without waiting, under the
    /// lock (so concurrent senders keep their order). A sender (`owner` false)
    /// writes only while there is no backlog; the session task (`owner`) writes
    /// the backlog. Whatever the socket does not take stays queued as a backlog
    /// and the session task is woken to write it when the socket drains.
    pub fn write_now(&self, owner: bool) -> Wrote {
        let mut guard = self.lock();
        let q = &mut *guard;
        let Some(sock) = q.direct.as_ref() else { return Wrote::Nothing };
        if q.closed == Closed::Overflow || (q.backlog && !owner) {
            return Wrote::Nothing;
        }
        let was_busy = self.over_resume(q);
        let mut written = 0u64;
        let mut failed = false;
        let full = loop {
            if q.items.is_empty() {
                break false;
            }
            let mut iov = [IoSlice::new(&[]); IOV];
            let n = q.items.len().min(IOV);
            for (slot, m) in iov.iter_mut().zip(q.items.iter()) {
                *slot = IoSlice::new(m);
            }
            let offered: usize = iov[..n].iter().map(|s| s.len()).sum();
            match sock.try_write_vectored(&iov[..n]) {
                Ok(0) => {
                    failed = true;
                    break false;
                }
                Ok(accepted) => {
                    self.progressed();
                    q.bytes -= accepted;
                    let mut took = accepted;
                    while let Some(front) = q.items.front_mut() {
                        if took < front.len() {
                            *front = front.slice(took..);
                            break;
                        }
                        took -= front.len();
                        q.items.pop_front();
                        written += 1;
                        if took == 0 {
                            break;
                        }
                    }
                    if accepted < offered {
                        // The socket took part of it: it is full now.
                        break true;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break true,
                Err(_) => {
                    failed = true;
                    break false;
                }
            }
        };
        let result = if failed {
            // Like a failed writer task: nothing more can be written; the session ends.
            q.items = VecDeque::new();
            q.bytes = 0;
            q.closed = Closed::Graceful;
            q.backlog = false;
            self.write_idle();
            Wrote::Failed
        } else if full {
            if !q.backlog && written == 0 {
                // The stall clock starts when a write began, as for the writer task.
                self.progressed();
            }
            q.backlog = true;
            Wrote::Backlog
        } else {
            // Idle sessions keep no buffers: thousands of them add up.
            q.items = VecDeque::new();
            q.backlog = false;
            self.write_idle();
            Wrote::All
        };
        if was_busy && !self.over_resume(q) {
            self.drained.notify_waiters();
        }
        drop(guard);
        if written > 0 {
            crate::metrics::M.deliveries_out.inc_by(written);
        }
        match result {
            Wrote::Backlog if !owner => self.ready.notify_one(),
            Wrote::Failed => self.drained.notify_waiters(),
            _ => {}
        }
        result
    }

    /// Direct: hands what is queued to the session task, which writes it at
    /// once (for pushes made outside any session task: they may hold the hub's
    /// locks, so they neither write nor wait).
    pub fn hand_over(&self) {
        let mut q = self.lock();
        if q.direct.is_none() || q.backlog || q.closed == Closed::Overflow || q.items.is_empty() {
            return;
        }
        q.backlog = true;
        self.progressed();
        drop(q);
        self.ready.notify_one();
    }

    /// Direct: waits until there is a backlog for the session task to write.
    pub async fn backlog(&self) {
        loop {
            let wait = self.ready.notified();
            tokio::pin!(wait);
            wait.as_mut().enable();
            {
                let q = self.lock();
                if q.backlog && q.closed != Closed::Overflow {
                    return;
                }
            }
            wait.await;
        }
    }

    /// Drops everything queued and stops at once: the client is not reading.
    pub fn fail(&self) {
        let mut q = self.lock();
        q.closed = Closed::Overflow;
        q.items = VecDeque::new();
        q.bytes = 0;
        q.backlog = false;
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

    #[tokio::test]
    async fn direct_asks_once_and_writes_in_order() {
        use tokio::io::AsyncReadExt;
        let (sock, o, mut client) = direct(16, 1 << 20).await;
        sock.writable().await.expect("writable");
        assert_eq!(o.push_flagged(Bytes::from_static(b"a\n"), false), (Pushed::Queued, true));
        assert_eq!(o.push_flagged(Bytes::from_static(b"b\n"), false), (Pushed::Queued, false));
        assert_eq!(o.push_flagged(Bytes::from_static(b"c\n"), true), (Pushed::Queued, false));
        assert_eq!(o.write_now(false), Wrote::All);
        assert_eq!(o.write_now(false), Wrote::All, "nothing queued: nothing to write");
        let mut got = [0u8; 6];
        client.read_exact(&mut got).await.expect("read");
        assert_eq!(&got, b"a\nb\nc\n");
        assert_eq!(o.stalled_for(), Duration::ZERO);
    }

    #[tokio::test]
    async fn a_full_socket_leaves_a_backlog_for_the_owner() {
        use tokio::io::AsyncReadExt;
        let (sock, o, mut client) = direct(1024, 64 << 20).await;
        sock.writable().await.expect("writable");
        // Far more than loopback buffers hold while nobody reads.
        let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
        let n = 256;
        for _ in 0..n {
            assert_ne!(o.push(chunk.clone()), Pushed::Overflowed);
        }
        assert_eq!(o.write_now(false), Wrote::Backlog);
        // The backlog is the owner's: a sender neither writes nor is asked to.
        assert_eq!(o.write_now(false), Wrote::Nothing);
        assert!(!o.push_flagged(Bytes::from_static(b"end\n"), false).1);
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
        while o.write_now(true) == Wrote::Backlog {
            sock.writable().await.expect("writable");
        }
        assert_eq!(reading.await.expect("reader"), n * chunk.len() + 4);
        assert_eq!(o.write_now(false), Wrote::All, "the backlog is gone: senders write again");
        assert_eq!(o.push_flagged(Bytes::from_static(b"again\n"), false), (Pushed::Queued, true));
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
