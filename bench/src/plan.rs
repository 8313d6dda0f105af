//! What a load run is made of: the settings, the clients' plans and the state
//! the engine ([`crate::load`]) and the client tasks ([`crate::client`]) share.

use crate::proto::Proto;
use crate::stats::{Server, PHASES};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering::Relaxed};
use std::sync::Mutex;
use tokio::sync::{watch, Notify};

/// Settings every scenario shares.
#[derive(Clone, Debug)]
pub struct Opts {
    /// Protocol spoken.
    pub proto: Proto,
    /// Server address.
    pub addr: SocketAddr,
    /// More nodes of the same host (cluster mode).
    pub also: Vec<SocketAddr>,
    /// Server process for CPU/RSS.
    pub server: Server,
    /// Connections being set up at once.
    pub setup_concurrency: usize,
    /// Prefix of account names and nicks.
    pub prefix: String,
    /// Initial read buffer per connection.
    pub buf_size: usize,
    /// Send right after setup, while join notices may still be in flight.
    pub cold: bool,
}

impl Opts {
    /// The node a client connects to: spread over `addr` and `also` by its name.
    pub fn addr_for(&self, name: &str) -> SocketAddr {
        let n = name.bytes().fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b as usize));
        match n % (1 + self.also.len()) {
            0 => self.addr,
            i => self.also[i - 1],
        }
    }
}

/// Where a sender's messages go.
#[derive(Clone, Debug)]
pub enum Target {
    /// Public chat in this room.
    Room(String),
    /// Private message to this user.
    User(String),
}

/// One client of a scenario.
#[derive(Clone, Debug)]
pub struct ClientPlan {
    /// Account name / nick.
    pub name: String,
    /// Room to join, if any.
    pub room: Option<String>,
    /// What it sends, if it is a sender.
    pub target: Option<Target>,
    /// Stops reading once the phase turns 1 (slow-reader scenario).
    pub slow: bool,
}

/// How senders send.
#[derive(Clone, Copy, Debug)]
pub struct SendCfg {
    /// Total messages per second over all senders; 0 = flat out (windowed).
    pub rate: f64,
    /// Messages per sender; `None` = until told to stop.
    pub count: Option<u64>,
    /// Flat out: messages per sender not yet delivered everywhere.
    pub window: u64,
    /// Message text size in bytes.
    pub size: usize,
}

/// Where the run is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Connecting and logging in.
    Setup,
    /// Senders send.
    Run,
    /// Everyone stops.
    Stop,
}

/// Per-sender counters the receivers update.
#[derive(Default)]
pub struct SenderState {
    /// Deliveries of this sender's messages seen so far.
    pub delivered: AtomicU64,
    /// Deliveries expected per message (joined room members minus the sender).
    pub fan: AtomicU64,
    /// Wakes a windowed sender.
    pub notify: Notify,
}

/// State shared by the engine and all client tasks.
pub struct Shared {
    /// Clients that finished setup.
    pub ready: AtomicUsize,
    /// Clients whose setup failed.
    pub failed: AtomicUsize,
    /// First few setup errors.
    pub errors: Mutex<Vec<String>>,
    /// Lines received (any kind).
    pub lines: AtomicU64,
    /// Timed deliveries received.
    pub delivered: AtomicU64,
    /// Timed deliveries per phase stamped in the message.
    pub phase_delivered: [AtomicU64; PHASES],
    /// Slow client: 0 = unknown, 1 = still connected at the end, 2 = dropped by the server.
    pub slow_dropped: AtomicU8,
    /// Deliveries expected for everything sent so far.
    pub expected: AtomicU64,
    /// Messages sent.
    pub sent: AtomicU64,
    /// Senders that finished.
    pub senders_done: AtomicUsize,
    /// Phase stamped into new messages.
    pub phase: AtomicU8,
    /// Cleared to make indefinite senders stop.
    pub sending: AtomicBool,
    /// Flat-out senders gave up waiting for their window this often.
    pub stalls: AtomicU64,
    /// Connections the server closed during the run.
    pub closed: AtomicU64,
    /// Setup attempts that failed and were retried.
    pub retries: AtomicU64,
    /// Per sender index.
    pub senders: Vec<SenderState>,
    /// Joined members per room.
    pub members: HashMap<String, AtomicU64>,
    /// Run state broadcast.
    pub state: watch::Sender<State>,
}

impl Shared {
    /// Remembers a setup error (the first few only).
    pub fn error(&self, e: String) {
        self.failed.fetch_add(1, Relaxed);
        if let Ok(mut v) = self.errors.lock() {
            if v.len() < 5 {
                v.push(e);
            }
        }
    }
}
