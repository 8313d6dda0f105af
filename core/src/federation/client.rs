//! Outbound server-to-server requests: one short TCP connection per request
//! (one JSON line out, one JSON line back), bounded in time and in
//! connections per peer. Messages whose order matters (room traffic) go
//! through one queue per peer; fire-and-forget ones are retried with backoff.

use super::addr::{self, Resolver};
use super::sent::SentIds;
pub use super::settings::Settings;
use crate::sync::lock;
use serde_json::Value;
use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::time::{timeout, Instant};
use tracing::{debug, warn};

/// Why an outbound request got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Connecting failed (refused, no route, DNS).
    Unreachable(String),
    /// Connecting or answering took too long.
    Timeout,
    /// The peer closed without an answer.
    Closed,
    /// The answer was not a JSON object.
    BadAnswer(String),
    /// Too many messages already wait for this peer, or it failed just now.
    Busy,
    /// Every address of the peer is one this server must not dial.
    NotAllowed(String),
}

impl Failure {
    /// Network trouble worth a retry.
    fn retryable(&self) -> bool {
        matches!(self, Failure::Unreachable(_) | Failure::Timeout | Failure::Closed)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Unreachable(e) => write!(f, "unreachable: {e}"),
            Failure::Timeout => write!(f, "timed out"),
            Failure::Closed => write!(f, "closed without an answer"),
            Failure::BadAnswer(e) => write!(f, "bad answer: {e}"),
            Failure::Busy => write!(f, "peer busy or down"),
            Failure::NotAllowed(e) => write!(f, "address not allowed: {e}"),
        }
    }
}

/// Fires once a message's dialback record is stored; it must not leave before.
type Stored = Option<oneshot::Receiver<()>>;

/// Waits until the record is stored (the store's own calls are bounded).
async fn until_stored(stored: Stored) {
    if let Some(rx) = stored {
        let _ = rx.await;
    }
}

/// What to do with the answer to a fire-and-forget message.
pub type Then = Box<dyn FnOnce(&Result<Value, Failure>) + Send>;

struct Job {
    msg: Value,
    /// Fires once the message's dialback record is stored (cluster mode).
    stored: Stored,
    retry: bool,
    reply: Option<oneshot::Sender<Result<Value, Failure>>>,
    then: Option<Then>,
}

/// What the queue worker and direct requests share about one peer.
struct PeerState {
    permits: Semaphore,
    down_until: Mutex<Option<Instant>>,
    last_used: Mutex<Instant>,
}

impl PeerState {
    fn is_down(&self) -> bool {
        lock(&self.down_until).is_some_and(|t| Instant::now() < t)
    }
    fn set_down(&self, d: Option<Duration>) {
        *lock(&self.down_until) = d.map(|d| Instant::now() + d);
    }
}

/// A peer: shared state, and its ordered queue once something was queued for it.
struct Peer {
    state: Arc<PeerState>,
    queue: Option<mpsc::Sender<Job>>,
}

/// The outbound client shared by every federation operation.
pub struct Outbound {
    settings: Arc<Settings>,
    sent: Arc<SentIds>,
    peers: Mutex<HashMap<String, Peer>>,
    resolver: Arc<Resolver>,
}

impl Outbound {
    /// A client that records the ids it sends in `sent`.
    pub fn new(settings: Arc<Settings>, sent: Arc<SentIds>) -> Outbound {
        Outbound { settings, sent, peers: Mutex::default(), resolver: Arc::default() }
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The peer's state, and its queue if `queued` (the queue worker starts on first use).
    fn peer(&self, host: &str, queued: bool) -> (Arc<PeerState>, Option<mpsc::Sender<Job>>) {
        let mut peers = lock(&self.peers);
        let p = peers.entry(host.to_owned()).or_insert_with(|| Peer {
            state: Arc::new(PeerState {
                permits: Semaphore::new(self.settings.per_peer),
                down_until: Mutex::new(None),
                last_used: Mutex::new(Instant::now()),
            }),
            queue: None,
        });
        *lock(&p.state.last_used) = Instant::now();
        if queued && p.queue.is_none() {
            let (tx, rx) = mpsc::channel(self.settings.queue);
            tokio::spawn(worker(self.settings.clone(), self.resolver.clone(), p.state.clone(), host.to_owned(), rx));
            p.queue = Some(tx);
        }
        (p.state.clone(), if queued { p.queue.clone() } else { None })
    }

    /// Forgets peers idle for `idle` with nothing queued (their workers end).
    pub fn prune(&self, idle: Duration) {
        let now = Instant::now();
        lock(&self.peers).retain(|_, p| {
            let busy = p.queue.as_ref().is_some_and(|q| q.capacity() < q.max_capacity());
            busy || now.duration_since(*lock(&p.state.last_used)) < idle
        });
    }

    /// Is `ip` an address of `host` (its `peers` address, or what its name resolves to)?
    pub async fn plausible(&self, host: &str, ip: IpAddr) -> bool {
        let found = self.resolver.lookup(&self.settings.address(host), self.settings.connect).await;
        found.is_ok_and(|addrs| addrs.iter().any(|a| a.ip().to_canonical() == ip.to_canonical()))
    }

    /// Adds `from_host` and a fresh `msg_id` (unless present) and remembers what
    /// goes to `host` under that id, for dialback.
    fn stamp(&self, host: &str, mut msg: Value) -> (Value, Stored) {
        let mut stored = None;
        if let Some(obj) = msg.as_object_mut() {
            obj.entry("from_host").or_insert_with(|| self.settings.host.clone().into());
            let id = match obj.get("msg_id").and_then(Value::as_str) {
                Some(id) => id.to_owned(),
                None => {
                    let id = super::sent::new_msg_id();
                    obj.insert("msg_id".into(), id.clone().into());
                    id
                }
            };
            stored = self.sent.record(&id, host, &msg);
        }
        (msg, stored)
    }

    /// One request on its own connection, now (not queued). `msg` is sent as given.
    pub async fn request_raw(&self, host: &str, msg: &Value, answer: Duration) -> Result<Value, Failure> {
        let (state, _) = self.peer(host, false);
        let res = exchange(&self.settings, &self.resolver, &state, host, msg, answer).await;
        if res.is_ok() {
            state.set_down(None);
        }
        res
    }

    /// Stamps and sends one request now (not queued).
    pub async fn request(&self, host: &str, msg: Value) -> Result<Value, Failure> {
        let (msg, stored) = self.stamp(host, msg);
        until_stored(stored).await;
        self.request_raw(host, &msg, self.settings.answer).await
    }

    /// Stamps and sends one request through the peer's ordered queue and waits for its answer.
    pub async fn ordered(&self, host: &str, msg: Value) -> Result<Value, Failure> {
        let (msg, stored) = self.stamp(host, msg);
        let Some(queue) = self.peer(host, true).1 else { return Err(Failure::Busy) };
        let (tx, rx) = oneshot::channel();
        let job = Job { msg, stored, retry: false, reply: Some(tx), then: None };
        // One bound for queueing and answering together: a session never waits longer.
        let deadline = Instant::now() + self.settings.connect + self.settings.answer;
        match tokio::time::timeout_at(deadline, queue.send(job)).await {
            Ok(Ok(())) => {}
            _ => return Err(Failure::Busy),
        }
        match tokio::time::timeout_at(deadline, rx).await {
            Ok(Ok(res)) => res,
            Ok(Err(_)) => Err(Failure::Closed),
            Err(_) => Err(Failure::Timeout),
        }
    }

    /// Stamps and queues a fire-and-forget message (retried on network failure);
    /// dropped with a warning when the peer's queue is full.
    pub fn post(&self, host: &str, msg: Value, then: Option<Then>) {
        let (msg, stored) = self.stamp(host, msg);
        let job = Job { msg, stored, retry: true, reply: None, then };
        let sent = match self.peer(host, true).1 {
            Some(queue) => queue.try_send(job),
            None => Err(mpsc::error::TrySendError::Closed(job)),
        };
        if let Err(e) = sent {
            warn!(peer = host, "federation queue full or closed; message dropped");
            let (mpsc::error::TrySendError::Full(job) | mpsc::error::TrySendError::Closed(job)) = e;
            if let Some(then) = job.then {
                then(&Err(Failure::Busy));
            }
        }
    }
}

/// Sends one peer's queued messages one after another, so they arrive in order.
async fn worker(
    settings: Arc<Settings>,
    resolver: Arc<Resolver>,
    state: Arc<PeerState>,
    host: String,
    mut rx: mpsc::Receiver<Job>,
) {
    while let Some(mut job) = rx.recv().await {
        until_stored(job.stored.take()).await;
        let res = if state.is_down() {
            Err(Failure::Busy)
        } else {
            let mut attempt = 0;
            loop {
                let res = exchange(&settings, &resolver, &state, &host, &job.msg, settings.answer).await;
                match &res {
                    Err(f) if job.retry && f.retryable() && attempt < settings.retries => {
                        debug!(peer = %host, "federation send failed ({f}); retrying");
                        tokio::time::sleep(settings.backoff * 2u32.saturating_pow(attempt)).await;
                        attempt += 1;
                    }
                    _ => break res,
                }
            }
        };
        match &res {
            Ok(_) => state.set_down(None),
            Err(Failure::Busy) => {}
            Err(f) => {
                if f.retryable() {
                    state.set_down(Some(settings.down_for));
                }
                let kind = job.msg.get("type").and_then(Value::as_str).unwrap_or("?");
                warn!(peer = %host, kind, "federation message not delivered: {f}");
            }
        }
        if let Some(tx) = job.reply {
            let _ = tx.send(res);
        } else if let Some(then) = job.then {
            then(&res);
        }
    }
}

/// Connects to one of `host`'s allowed addresses, from our source address; bounded by `s.connect`.
async fn connect(s: &Settings, resolver: &Resolver, host: &str) -> Result<TcpStream, Failure> {
    let addr = s.address(host);
    let deadline = Instant::now() + s.connect;
    let found = resolver.lookup(&addr, s.connect).await.map_err(Failure::Unreachable)?;
    // A loopback `listen` (a server behind a proxy) says nothing about how to reach other machines.
    let source =
        |a: &SocketAddr| s.source_ip.filter(|src| s.source_explicit || !src.is_loopback() || a.ip().is_loopback());
    let same_family = |a: &SocketAddr| source(a).is_none_or(|src| src.is_ipv4() == a.is_ipv4());
    let usable: Vec<SocketAddr> =
        found.iter().copied().filter(|a| addr::allowed(a.ip(), s.allow_private) && same_family(a)).collect();
    if usable.is_empty() {
        let why = if s.allow_private { "unspecified, multicast or broadcast" } else { "allow_private_peers = false" };
        warn!(peer = %host, ?found, "refusing to connect to {addr}: no allowed address ({why})");
        return Err(Failure::NotAllowed(format!("{addr} ({why})")));
    }
    let mut last = Failure::Timeout;
    for a in usable {
        let attempt = async {
            let sock = if a.is_ipv4() { TcpSocket::new_v4() } else { TcpSocket::new_v6() }?;
            if let Some(src) = source(&a) {
                sock.bind(SocketAddr::new(src, 0))?;
            }
            sock.connect(a).await
        };
        match tokio::time::timeout_at(deadline, attempt).await {
            Ok(Ok(st)) => return Ok(st),
            Ok(Err(e)) => last = Failure::Unreachable(format!("{a}: {e}")),
            Err(_) => return Err(Failure::Timeout),
        }
    }
    Err(last)
}

/// Connect, send one line, read one line; every step bounded.
async fn exchange(
    s: &Settings,
    resolver: &Resolver,
    peer: &PeerState,
    host: &str,
    msg: &Value,
    answer: Duration,
) -> Result<Value, Failure> {
    // An async block: its early returns are failures, counted below like the rest.
    let res = async {
        let _permit = match timeout(s.connect, peer.permits.acquire()).await {
            Ok(Ok(p)) => p,
            _ => return Err(Failure::Busy),
        };
        let mut stream = connect(s, resolver, host).await?;
        let _ = stream.set_nodelay(true);
        // One write: the reference reads a request with a single peek/recv.
        let mut line = serde_json::to_vec(msg).map_err(|e| Failure::BadAnswer(e.to_string()))?;
        line.push(b'\n');
        let talk = async {
            stream.write_all(&line).await.map_err(|_| Failure::Closed)?;
            read_line(&mut stream, s.max_bytes).await.map_err(|_| Failure::Closed)
        };
        let got = match timeout(answer, talk).await {
            Ok(r) => r?,
            Err(_) => return Err(Failure::Timeout),
        };
        if got.is_empty() {
            return Err(Failure::Closed);
        }
        match serde_json::from_slice::<Value>(&got) {
            Ok(v) if v.is_object() => Ok(v),
            Ok(_) => Err(Failure::BadAnswer("not a JSON object".into())),
            Err(e) => Err(Failure::BadAnswer(e.to_string())),
        }
    }
    .await;
    crate::metrics::federation("out", if res.is_ok() { "ok" } else { "failed" });
    res
}

/// Reads up to one `\n` (excluded) or EOF; longer than `max` is an error.
pub async fn read_line(stream: &mut TcpStream, max: usize) -> std::io::Result<Vec<u8>> {
    let mut rd = BufReader::new(stream).take(max as u64 + 1);
    let mut buf = Vec::new();
    rd.read_until(b'\n', &mut buf).await?;
    if buf.last() == Some(&b'\n') {
        buf.pop();
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
    } else if buf.len() > max {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "line too long"));
    }
    Ok(buf)
}
