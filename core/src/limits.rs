//! Abuse budgets in one place: small keyed limiters that are bounded (every
//! map has a cap and evicts expired, then oldest entries) and expiring, so no
//! attacker can grow them. `[limits]` in the config sets them; `0` turns one off.

use crate::config::LimitsConfig;
use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Entries one keyed limiter may hold; past this it evicts (expired first, then oldest).
pub const MAX_KEYS: usize = 65_536;

/// An entry that knows when it was last touched.
trait Stamped {
    fn last(&self) -> Instant;
}

/// A HashMap with a hard cap on its size.
struct Capped<K, V> {
    map: HashMap<K, V>,
    cap: usize,
    ttl: Duration,
}

impl<K: Hash + Eq + Clone, V: Stamped> Capped<K, V> {
    fn new(cap: usize, ttl: Duration) -> Self {
        Capped { map: HashMap::new(), cap: cap.max(8), ttl }
    }

    fn entry(&mut self, key: &K, now: Instant, fresh: impl FnOnce() -> V) -> &mut V {
        if !self.map.contains_key(key) && self.map.len() >= self.cap {
            self.evict(now);
        }
        self.map.entry(key.clone()).or_insert_with(fresh)
    }

    /// Drops expired entries; if still full, the oldest eighth (amortised O(1) per insert).
    fn evict(&mut self, now: Instant) {
        let ttl = self.ttl;
        self.map.retain(|_, v| now.saturating_duration_since(v.last()) < ttl);
        if self.map.len() >= self.cap {
            let mut stamps: Vec<Instant> = self.map.values().map(Stamped::last).collect();
            let k = self.cap / 8;
            let (_, cut, _) = stamps.select_nth_unstable(k);
            let cut = *cut;
            self.map.retain(|_, v| v.last() > cut);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A token bucket: `burst` tokens, refilled at `per_sec`. Not shared; one per session.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    tokens: f64,
    last: Instant,
    burst: f64,
    per_sec: f64,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(per_sec: f64, burst: f64, now: Instant) -> Self {
        let burst = burst.max(1.0);
        TokenBucket { tokens: burst, last: now, burst, per_sec }
    }

    fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + dt * self.per_sec).min(self.burst);
        self.last = now;
    }

    /// Takes one token, or says how long until one is there (nothing taken then).
    pub fn take(&mut self, now: Instant) -> Result<(), Duration> {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Ok(());
        }
        if self.per_sec <= 0.0 {
            return Err(Duration::MAX);
        }
        Err(Duration::from_secs_f64((1.0 - self.tokens) / self.per_sec))
    }

    /// Tokens left (for tests and flood decisions).
    pub fn tokens(&self) -> f64 {
        self.tokens
    }

    /// Changes the rate (a reload): tokens earned so far are kept, up to the new burst.
    pub fn set_rate(&mut self, per_sec: f64, burst: f64, now: Instant) {
        self.refill(now);
        self.per_sec = per_sec;
        self.burst = burst.max(1.0);
        self.tokens = self.tokens.min(self.burst);
    }
}

impl Stamped for TokenBucket {
    fn last(&self) -> Instant {
        self.last
    }
}

/// One token bucket per key (e.g. registrations per IP per hour).
pub struct KeyedRate<K> {
    inner: Mutex<Rated<K>>,
}

struct Rated<K> {
    buckets: Capped<K, TokenBucket>,
    per_sec: f64,
    burst: f64,
}

/// A bucket untouched until it is full again carries no information.
fn refill_ttl(per_sec: f64, burst: f64) -> Duration {
    if per_sec > 0.0 {
        Duration::from_secs_f64(burst / per_sec)
    } else {
        Duration::from_secs(3600)
    }
}

impl<K: Hash + Eq + Clone> KeyedRate<K> {
    /// `burst` at once, refilled at `per_sec`; `burst == 0` turns the limiter off.
    pub fn new(per_sec: f64, burst: f64) -> Self {
        let buckets = Capped::new(MAX_KEYS, refill_ttl(per_sec, burst));
        KeyedRate { inner: Mutex::new(Rated { buckets, per_sec, burst }) }
    }

    /// `n` per hour, all of them usable at once.
    pub fn per_hour(n: u32) -> Self {
        Self::new(f64::from(n) / 3600.0, f64::from(n))
    }

    /// New rate for every key (a reload); each key keeps what it has left, up to the new burst.
    pub fn set_per_hour(&self, n: u32) {
        let (per_sec, burst) = (f64::from(n) / 3600.0, f64::from(n));
        let now = Instant::now();
        let mut r = lock(&self.inner);
        r.per_sec = per_sec;
        r.burst = burst;
        r.buckets.ttl = refill_ttl(per_sec, burst);
        r.buckets.map.values_mut().for_each(|b| b.set_rate(per_sec, burst, now));
    }

    /// Takes one token for `key`; false when the key's budget is spent (or true when off).
    pub fn allow(&self, key: &K) -> bool {
        let now = Instant::now();
        let mut r = lock(&self.inner);
        let (per_sec, burst) = (r.per_sec, r.burst);
        if burst <= 0.0 {
            return true;
        }
        r.buckets.entry(key, now, || TokenBucket::new(per_sec, burst, now)).take(now).is_ok()
    }
}

/// Failures counted per key, with a delay that doubles with every failure past a free budget.
pub struct Failures<K> {
    map: Mutex<Capped<K, FailEntry>>,
    /// Changed live by a reload; failures counted so far are kept.
    free: AtomicU32,
    base: Duration,
    max_delay: Duration,
    /// Serialise a key's attempts: each one reserves the next slot, so parallel
    /// connections do not multiply the rate.
    serialise: bool,
}

struct FailEntry {
    failures: u32,
    last: Instant,
    slot: Instant,
}

impl Stamped for FailEntry {
    fn last(&self) -> Instant {
        self.last
    }
}

/// Failures are forgotten after this long without a new one.
pub const FORGET_FAILURES: Duration = Duration::from_secs(15 * 60);

impl<K: Hash + Eq + Clone> Failures<K> {
    /// `free` failures without delay (0 = off), then `base`, `2 × base`, … up to `max_delay`.
    pub fn new(free: u32, base: Duration, max_delay: Duration, serialise: bool) -> Self {
        let map = Mutex::new(Capped::new(MAX_KEYS, FORGET_FAILURES));
        Failures { map, free: AtomicU32::new(free), base, max_delay, serialise }
    }

    /// A new free budget (a reload).
    pub fn set_free(&self, free: u32) {
        self.free.store(free, Relaxed);
    }

    /// Counts an attempt for `key` as a failure up front (so parallel attempts
    /// cannot all slip through the free budget) and says how long it must wait
    /// before it is tried; a serialised key reserves its slot. A right password
    /// is [`forgive`](Self::forgive)n afterwards.
    pub fn attempt(&self, key: &K) -> Duration {
        let free = self.free.load(Relaxed);
        if free == 0 {
            return Duration::ZERO;
        }
        let now = Instant::now();
        let mut map = lock(&self.map);
        let e = map.entry(key, now, || FailEntry { failures: 0, last: now, slot: now });
        if now.saturating_duration_since(e.last) >= FORGET_FAILURES {
            e.failures = 0;
            e.slot = now;
        }
        let before = e.failures;
        e.failures = e.failures.saturating_add(1);
        e.last = now;
        if before < free {
            return Duration::ZERO;
        }
        let over = (before - free).min(30);
        let delay = self.base.saturating_mul(1u32 << over).min(self.max_delay);
        if !self.serialise {
            return delay;
        }
        let start = e.slot.max(now) + delay;
        // A refused attempt (too long a wait) reserves nothing.
        if start - now <= MAX_LOGIN_WAIT {
            e.slot = start;
        }
        start - now
    }

    /// Takes back `n` failures of `key`.
    pub fn forgive(&self, key: &K, n: u32) {
        if let Some(e) = lock(&self.map).map.get_mut(key) {
            e.failures = e.failures.saturating_sub(n);
        }
    }

    /// Forgets `key` (a successful login).
    pub fn clear(&self, key: &K) {
        lock(&self.map).map.remove(key);
    }

    /// Keys held now (tests).
    pub fn len(&self) -> usize {
        lock(&self.map).map.len()
    }

    /// True when no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A sender whose chat is delayed continuously for this long is disconnected.
pub const FLOOD_DISCONNECT: Duration = Duration::from_secs(60);

/// What to do with one chat line of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FloodStep {
    /// Send it now.
    Go,
    /// Stop reading this session for this long, then send it; `warn`: say [`crate::replies::TOO_FAST`]
    /// (at most once per [`FLOOD_WARN_EVERY`]).
    Wait(Duration, bool),
    /// Far over the limit for long: disconnect.
    Disconnect,
}

/// Per-session chat flood control (`chat_lines_per_sec`, `chat_burst`), IRC-style:
/// excess lines are delayed, not dropped; the session holds no timer while idle.
#[derive(Debug, Clone)]
pub struct Flood {
    bucket: TokenBucket,
    /// `(chat_lines_per_sec, chat_burst)` the bucket was made with.
    rate: (u32, u32),
    /// When the current stretch of delayed lines began.
    since: Option<Instant>,
    /// When the sender was last told [`crate::replies::TOO_FAST`].
    warned: Option<Instant>,
}

/// The sender is told [`crate::replies::TOO_FAST`] at most this often.
pub const FLOOD_WARN_EVERY: Duration = Duration::from_secs(30);

impl Flood {
    /// `None` when `per_sec == 0` (off).
    pub fn new(per_sec: u32, burst: u32) -> Option<Flood> {
        (per_sec > 0).then(|| Flood {
            bucket: TokenBucket::new(f64::from(per_sec), f64::from(burst), Instant::now()),
            rate: (per_sec, burst),
            since: None,
            warned: None,
        })
    }

    /// Follows a reloaded rate; the lines already earned stay, up to the new burst.
    pub fn follow(&mut self, per_sec: u32, burst: u32) {
        if self.rate != (per_sec, burst) {
            self.rate = (per_sec, burst);
            self.bucket.set_rate(f64::from(per_sec), f64::from(burst), Instant::now());
        }
    }

    /// Decides about one more chat line.
    pub fn step(&mut self, now: Instant) -> FloodStep {
        match self.bucket.take(now) {
            Ok(()) => {
                self.since = None;
                FloodStep::Go
            }
            Err(wait) => {
                let warn = self.warned.is_none_or(|w| now.saturating_duration_since(w) >= FLOOD_WARN_EVERY);
                if warn {
                    self.warned = Some(now);
                }
                let since = *self.since.get_or_insert(now);
                if now.saturating_duration_since(since) >= FLOOD_DISCONNECT {
                    return FloodStep::Disconnect;
                }
                // The token the wait is for is taken now, so the line may go after it.
                self.bucket.tokens -= 1.0;
                FloodStep::Wait(wait, warn)
            }
        }
    }
}

/// Lists in replies (`/list_servers`, the login room list, `/members`) show this
/// many names, then `, … and K more`.
pub const LIST_NAMES: usize = 100;

/// A login attempt waiting longer than this is refused outright, without a hash.
pub const MAX_LOGIN_WAIT: Duration = Duration::from_secs(30);
/// The per-account slow-down every IP pays once an account is under attack; kept
/// under a second so the real owner still gets in from a fresh address.
pub const ACCOUNT_SLOWDOWN: Duration = Duration::from_millis(400);

/// The key budgets use for a client address: IPv4 as is (IPv4-mapped IPv6 too),
/// IPv6 by its /64, since one subscriber usually gets a whole /64.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let mut seg = v6.segments();
            seg[4..].fill(0);
            IpAddr::V6(seg.into())
        }
        v4 => v4,
    }
}

/// Account names in budget keys are cut to this many characters: a login may
/// name any text, and keys must stay small.
const KEY_NAME_CHARS: usize = crate::names::MAX_NAME;

fn account_key(account: &str) -> String {
    account.chars().take(KEY_NAME_CHARS).collect()
}

/// The server-wide budgets (per-session ones live in the session). Every value
/// is read at its check, so [`Budgets::apply`] (a reload) changes them live.
pub struct Budgets {
    /// `registrations_per_ip_per_hour`.
    pub registrations: KeyedRate<IpAddr>,
    /// `login_failures_per_ip`: serialised, growing delays per IP.
    pub login_ip: Failures<IpAddr>,
    /// `login_failures_per_account`, per (account, IP): serialised, growing delays.
    pub login_pair: Failures<(String, IpAddr)>,
    /// `login_failures_per_account`, per account from anywhere: a short, capped slow-down.
    pub login_account: Failures<String>,
    /// `chat_lines_per_sec` in the high half, `chat_burst` in the low half.
    chat: AtomicU64,
    max_rooms: AtomicUsize,
    max_rooms_per_account: AtomicUsize,
    max_connections_per_ip: AtomicUsize,
    max_connections: AtomicUsize,
    idle_timeout_secs: AtomicU64,
    queue_messages: AtomicUsize,
    queue_bytes: AtomicUsize,
    slow_reader_secs: AtomicU64,
}

impl Budgets {
    /// Builds the budgets from `[limits]`.
    pub fn new(cfg: &LimitsConfig) -> Self {
        let ms = Duration::from_millis;
        let b = Budgets {
            registrations: KeyedRate::per_hour(cfg.registrations_per_ip_per_hour),
            login_ip: Failures::new(cfg.login_failures_per_ip, ms(500), MAX_LOGIN_WAIT, true),
            login_pair: Failures::new(cfg.login_failures_per_account, ms(1000), MAX_LOGIN_WAIT, true),
            login_account: Failures::new(cfg.login_failures_per_account, ms(100), ACCOUNT_SLOWDOWN, false),
            chat: AtomicU64::default(),
            max_rooms: AtomicUsize::default(),
            max_rooms_per_account: AtomicUsize::default(),
            max_connections_per_ip: AtomicUsize::default(),
            max_connections: AtomicUsize::default(),
            idle_timeout_secs: AtomicU64::default(),
            queue_messages: AtomicUsize::default(),
            queue_bytes: AtomicUsize::default(),
            slow_reader_secs: AtomicU64::default(),
        };
        b.set_scalars(cfg);
        b
    }

    fn set_scalars(&self, cfg: &LimitsConfig) {
        self.chat.store(u64::from(cfg.chat_lines_per_sec) << 32 | u64::from(cfg.chat_burst), Relaxed);
        self.max_rooms.store(cfg.max_rooms, Relaxed);
        self.max_rooms_per_account.store(cfg.max_rooms_per_account, Relaxed);
        self.max_connections_per_ip.store(cfg.max_connections_per_ip, Relaxed);
        self.max_connections.store(cfg.max_connections, Relaxed);
        self.idle_timeout_secs.store(cfg.idle_timeout_secs, Relaxed);
        self.queue_messages.store(cfg.outbound_queue_messages, Relaxed);
        self.queue_bytes.store(cfg.outbound_queue_bytes, Relaxed);
        self.slow_reader_secs.store(cfg.slow_reader_secs, Relaxed);
    }

    /// Applies a reloaded `[limits]`: new values for every check from now on; the
    /// counts so far (failures, spent registrations, open connections) are kept.
    pub fn apply(&self, cfg: &LimitsConfig) {
        self.set_scalars(cfg);
        self.registrations.set_per_hour(cfg.registrations_per_ip_per_hour);
        self.login_ip.set_free(cfg.login_failures_per_ip);
        self.login_pair.set_free(cfg.login_failures_per_account);
        self.login_account.set_free(cfg.login_failures_per_account);
    }

    /// `(chat_lines_per_sec, chat_burst)`.
    pub fn chat(&self) -> (u32, u32) {
        let v = self.chat.load(Relaxed);
        ((v >> 32) as u32, v as u32)
    }

    /// `(max_rooms, max_rooms_per_account)`.
    pub fn rooms(&self) -> (usize, usize) {
        (self.max_rooms.load(Relaxed), self.max_rooms_per_account.load(Relaxed))
    }

    /// `(max_connections_per_ip, max_connections)`.
    pub fn connections(&self) -> (usize, usize) {
        (self.max_connections_per_ip.load(Relaxed), self.max_connections.load(Relaxed))
    }

    /// `idle_timeout_secs`.
    pub fn idle_timeout_secs(&self) -> u64 {
        self.idle_timeout_secs.load(Relaxed)
    }

    /// `slow_reader_secs` for a new session; `None` when off.
    pub fn slow_reader(&self) -> Option<Duration> {
        let secs = self.slow_reader_secs.load(Relaxed);
        (secs > 0).then(|| Duration::from_secs(secs))
    }

    /// Outbound queue bounds for a new session: `(messages, bytes)`.
    pub fn queue(&self) -> (usize, usize) {
        (self.queue_messages.load(Relaxed), self.queue_bytes.load(Relaxed))
    }

    /// Charges a login attempt for `account` from `ip` as a failure and says how
    /// long it waits before it is checked.
    pub fn login_attempt(&self, account: &str, ip: IpAddr) -> Duration {
        let (ip, account) = (client_key(ip), account_key(account));
        let serial = self.login_ip.attempt(&ip).max(self.login_pair.attempt(&(account.clone(), ip)));
        serial + self.login_account.attempt(&account)
    }

    /// A successful login: forgives the `charged` failures counted up front, and
    /// the address's failures on that account.
    pub fn login_ok(&self, account: &str, ip: IpAddr, charged: u32) {
        let (ip, account) = (client_key(ip), account_key(account));
        self.login_pair.clear(&(account.clone(), ip));
        self.login_ip.forgive(&ip, charged);
        self.login_account.forgive(&account, charged);
    }

    /// An attempt that was charged but not checked after all (refused, queues full).
    pub fn login_unchecked(&self, account: &str, ip: IpAddr) {
        let (ip, account) = (client_key(ip), account_key(account));
        self.login_ip.forgive(&ip, 1);
        self.login_pair.forgive(&(account.clone(), ip), 1);
        self.login_account.forgive(&account, 1);
    }

    /// Takes one registration from `ip`'s hourly budget; false when it is spent.
    pub fn may_register(&self, ip: IpAddr) -> bool {
        self.registrations.allow(&client_key(ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_refills_and_waits() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(10.0, 2.0, t0);
        assert!(b.take(t0).is_ok() && b.take(t0).is_ok());
        let wait = b.take(t0).unwrap_err();
        assert!(wait > Duration::from_millis(90) && wait <= Duration::from_millis(100));
        assert!(b.take(t0 + Duration::from_millis(100)).is_ok());
    }

    #[test]
    fn flood_delays_then_disconnects() {
        let mut f = Flood::new(10, 2).unwrap();
        let t0 = Instant::now();
        assert_eq!(f.step(t0), FloodStep::Go);
        assert_eq!(f.step(t0), FloodStep::Go);
        assert!(matches!(f.step(t0), FloodStep::Wait(_, true)));
        assert!(matches!(f.step(t0), FloodStep::Wait(w, false) if w >= Duration::from_millis(150)));
        // A sender that always has the next line ready is delayed, then dropped after a minute.
        let mut t = t0;
        let mut steps = 0;
        loop {
            match f.step(t) {
                FloodStep::Go => {}
                FloodStep::Wait(w, _) => t += w,
                FloodStep::Disconnect => break,
            }
            steps += 1;
            assert!(steps < 10_000);
        }
        assert!(t - t0 >= FLOOD_DISCONNECT - Duration::from_millis(300), "{:?}", t - t0);
        assert!(Flood::new(0, 5).is_none());
    }

    #[test]
    fn keyed_rate_is_per_key_and_off_at_zero() {
        let r = KeyedRate::per_hour(2);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        assert!(r.allow(&a) && r.allow(&a) && !r.allow(&a));
        assert!(r.allow(&b));
        let off = KeyedRate::per_hour(0);
        assert!((0..100).all(|_| off.allow(&a)));
    }

    #[test]
    fn failures_grow_and_serialise() {
        let f = Failures::new(2, Duration::from_millis(100), Duration::from_secs(1), true);
        assert_eq!(f.attempt(&1u32), Duration::ZERO);
        assert_eq!(f.attempt(&1u32), Duration::ZERO);
        assert_eq!(f.attempt(&2u32), Duration::ZERO);
        // Parallel attempts queue behind each other, each waiting twice as long.
        let w1 = f.attempt(&1u32);
        let w2 = f.attempt(&1u32);
        assert!(w1 >= Duration::from_millis(90) && w2 >= Duration::from_millis(290), "{w1:?} {w2:?}");
        f.clear(&1u32);
        assert_eq!(f.attempt(&1u32), Duration::ZERO);
        f.forgive(&2u32, 1);
        assert_eq!(f.attempt(&2u32), Duration::ZERO);
    }

    #[test]
    fn unserialised_delay_is_capped() {
        let f = Failures::new(1, Duration::from_millis(100), ACCOUNT_SLOWDOWN, false);
        assert!((0..60).all(|_| f.attempt(&"a") <= ACCOUNT_SLOWDOWN));
    }

    #[test]
    fn ipv6_counts_by_slash_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        assert_eq!(client_key(a), client_key(b));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(client_key(mapped), "10.0.0.1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn maps_are_capped() {
        let f = Failures::new(1, Duration::from_millis(1), Duration::from_millis(1), true);
        for i in 0..(MAX_KEYS as u32 * 2) {
            f.attempt(&i);
        }
        assert!(f.len() <= MAX_KEYS);
    }
}
