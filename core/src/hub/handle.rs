//! [`SessionHandle`]: the shared half of one client connection — what the hub,
//! delivery and capabilities hold. The connection's own half is `session::run`.

use crate::outbox::{now_ms, Outbox, Pushed, Wrote};
use crate::signal::Signal;
use bytes::Bytes;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Why the server ends sessions: the metrics' `reason` label for disconnects.
pub const END_REASONS: [&str; 8] =
    ["ban", "flood", "http_after_greeting", "idle", "queue_full", "shutdown", "slow_reader", "other"];

/// The shared half of one client connection: what delivery needs.
pub struct SessionHandle {
    /// Unique while the server runs.
    pub id: u64,
    /// The client's address.
    pub peer: SocketAddr,
    /// Lines waiting for this session's writer.
    pub outbox: Outbox,
    pub(super) account: OnceLock<Arc<str>>,
    /// Fired to make the session end (ban, shutdown, overflow, idle).
    pub kick: Signal,
    /// Why the session was ended, set by whoever decided it: 1 + an index into
    /// [`END_REASONS`] (one byte instead of a 24-byte `OnceLock<&str>` per session).
    ended: AtomicU8,
    /// Milliseconds on the server's clock of the last message from the client.
    last_active: AtomicU64,
}

impl SessionHandle {
    /// A new, not yet logged-in session.
    pub fn new(id: u64, peer: SocketAddr, outbox: Outbox) -> Arc<Self> {
        Arc::new(SessionHandle {
            id,
            peer,
            outbox,
            account: OnceLock::new(),
            kick: Signal::default(),
            ended: AtomicU8::new(0),
            last_active: AtomicU64::new(now_ms()),
        })
    }

    /// Records client activity (any message, keep-alives included).
    pub fn touch(&self) {
        self.last_active.store(now_ms(), Ordering::Relaxed);
    }

    /// How long since the client last sent a message.
    pub fn idle_for(&self) -> Duration {
        Duration::from_millis(now_ms().saturating_sub(self.last_active.load(Ordering::Relaxed)))
    }

    /// Records that the socket accepted bytes (the writer calls it).
    pub fn progressed(&self) {
        self.outbox.progressed();
    }

    /// Records that the writer has nothing to write (so nothing can stall).
    pub fn write_idle(&self) {
        self.outbox.write_idle();
    }

    /// How long the writer has waited for its socket to accept bytes; zero while it is idle.
    pub fn stalled_for(&self) -> Duration {
        self.outbox.stalled_for()
    }

    /// Writes this direct (plain TCP) session's queue to its socket now; see
    /// [`Outbox::write_now`]. A broken socket ends the session.
    pub fn write_now(&self) -> Wrote {
        let wrote = self.outbox.write_now();
        if wrote == Wrote::Failed {
            self.kick.notify_one();
        }
        wrote
    }

    /// The account once logged in.
    pub fn account(&self) -> Option<&Arc<str>> {
        self.account.get()
    }

    /// Queues a text (a `\n` is added).
    pub fn send(&self, text: &str) -> bool {
        self.push(line(text))
    }

    /// Queues a reply to this session's own command: it may use the outbox's
    /// reply headroom, so asking for a (bounded) list never counts as not reading.
    pub fn reply(&self, text: &str) -> bool {
        self.pushed(self.outbox.push_reply(line(text)))
    }

    /// Queues pre-formatted bytes; drops the session if its queue overflows.
    pub fn push(&self, bytes: Bytes) -> bool {
        self.pushed(self.outbox.push(bytes))
    }

    /// Like [`push`](Self::push); true when the queue is now busy (the sender should wait).
    pub(super) fn push_noting(&self, bytes: Bytes) -> bool {
        let result = self.outbox.push(bytes);
        self.pushed(result);
        result == Pushed::Busy
    }

    fn pushed(&self, result: Pushed) -> bool {
        match result {
            Pushed::Queued | Pushed::Busy => true,
            Pushed::Closed => false,
            Pushed::Overflowed => {
                tracing::warn!(session = self.id, peer = %self.peer, account = ?self.account(), "outbound queue full: client is not reading; disconnecting it");
                self.end("queue_full");
                false
            }
        }
    }

    /// Ends the session after `text`; `reason` is what the metrics count (`ban`, ...).
    pub fn kick_with(&self, text: &str, reason: &'static str) {
        self.send(text);
        self.outbox.close();
        self.end(reason);
    }

    /// Makes the session end; the first reason given is the one counted (one of
    /// [`END_REASONS`]; any other counts as `other`).
    pub fn end(&self, reason: &'static str) {
        let index = END_REASONS.iter().position(|r| *r == reason).unwrap_or(END_REASONS.len() - 1);
        let _ = self.ended.compare_exchange(0, index as u8 + 1, Ordering::AcqRel, Ordering::Acquire);
        self.kick.notify_one();
    }

    /// Why the session was ended, if something other than its client ended it.
    pub fn end_reason(&self) -> Option<&'static str> {
        match self.ended.load(Ordering::Acquire) {
            0 => None,
            n => END_REASONS.get(usize::from(n) - 1).copied(),
        }
    }
}

/// Formats a text as one outbound message.
pub fn line(text: &str) -> Bytes {
    let mut v = Vec::with_capacity(text.len() + 1);
    v.extend_from_slice(text.as_bytes());
    v.push(b'\n');
    Bytes::from(v)
}
