//! Dialback (WIRE §6): proving that a request really came from its `from_host`.
//!
//! Outbound: every `msg_id` this server sends is remembered for a few minutes,
//! and a `dialback_check` is answered `ok` only for those. Inbound: before
//! acting on a request, ask the claimed host about its `msg_id`; a success is
//! trusted for a short while per (host, source IP), so chat stays fast
//! without letting another machine ride on someone else's check.

use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// Most ids remembered at once; the oldest go first beyond this.
const MAX_SENT: usize = 200_000;

/// A fresh message id: 128 random bits as hex.
pub fn new_msg_id() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Default)]
struct Sent {
    order: VecDeque<(Instant, String)>,
    ids: HashMap<String, (Instant, String)>,
}

/// The ids this server sent recently, with their message types.
pub struct SentIds {
    ttl: Duration,
    inner: Mutex<Sent>,
}

impl SentIds {
    /// Remembers ids for `ttl`.
    pub fn new(ttl: Duration) -> SentIds {
        SentIds { ttl, inner: Mutex::default() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Sent> {
        crate::sync::lock(&self.inner)
    }

    /// Remembers that we sent `id` as a message of type `kind`.
    pub fn record(&self, id: &str, kind: &str) {
        let now = Instant::now();
        let mut s = self.lock();
        s.order.push_back((now, id.to_owned()));
        s.ids.insert(id.to_owned(), (now, kind.to_owned()));
        Self::expire(&mut s, now, self.ttl);
    }

    /// Did we send `id` lately (as a `kind`, when the checker names one)?
    pub fn knows(&self, id: &str, kind: Option<&str>) -> bool {
        let now = Instant::now();
        let s = self.lock();
        match s.ids.get(id) {
            Some((at, k)) => {
                now.duration_since(*at) <= self.ttl && kind.is_none_or(|want| want.is_empty() || want == k)
            }
            None => false,
        }
    }

    /// Drops expired ids.
    pub fn prune(&self) {
        let mut s = self.lock();
        Self::expire(&mut s, Instant::now(), self.ttl);
    }

    fn expire(s: &mut Sent, now: Instant, ttl: Duration) {
        while let Some((at, _)) = s.order.front() {
            if now.duration_since(*at) <= ttl && s.order.len() <= MAX_SENT {
                break;
            }
            let Some((at, id)) = s.order.pop_front() else { break };
            // Only forget the id if this was its latest sending.
            if s.ids.get(&id).is_some_and(|(t, _)| *t == at) {
                s.ids.remove(&id);
            }
        }
    }

    /// How many ids are remembered.
    pub fn len(&self) -> usize {
        self.lock().ids.len()
    }

    /// True when none is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Hosts whose dialback succeeded lately, per source IP.
pub struct Verified {
    ttl: Duration,
    map: Mutex<HashMap<(String, IpAddr), Instant>>,
}

impl Verified {
    /// Trusts a success for `ttl` (zero: never cache).
    pub fn new(ttl: Duration) -> Verified {
        Verified { ttl, map: Mutex::default() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, IpAddr), Instant>> {
        crate::sync::lock(&self.map)
    }

    /// Was `host` verified from `ip` lately?
    pub fn fresh(&self, host: &str, ip: IpAddr) -> bool {
        self.lock().get(&(host.to_owned(), ip)).is_some_and(|t| t.elapsed() < self.ttl)
    }

    /// Records a success.
    pub fn insert(&self, host: &str, ip: IpAddr) {
        if !self.ttl.is_zero() {
            self.lock().insert((host.to_owned(), ip), Instant::now());
        }
    }

    /// Drops expired entries.
    pub fn prune(&self) {
        let ttl = self.ttl;
        self.lock().retain(|_, t| t.elapsed() < ttl);
    }
}

/// The answer to a `dialback_check`.
pub fn answer(sent: &SentIds, msg_id: &str, msg_type: Option<&str>) -> Value {
    let result = if sent.knows(msg_id, msg_type) { "ok" } else { "fail" };
    serde_json::json!({"type": "dialback_result", "msg_id": msg_id, "result": result})
}

/// The `dialback_check` we send about a request of type `kind`; it repeats the
/// request's identifying fields, as the reference does.
pub fn check_request(our_host: &str, msg_id: &str, kind: &str, request: &Value) -> Value {
    let mut m = serde_json::Map::new();
    m.insert("type".into(), "dialback_check".into());
    m.insert("msg_id".into(), msg_id.into());
    m.insert("msg_type".into(), kind.into());
    m.insert("from_host".into(), our_host.into());
    for key in ["sender", "recipient", "message", "room", "event"] {
        if let Some(v) = request.get(key) {
            m.insert(key.into(), v.clone());
        }
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sent_ids_are_confirmed() {
        let s = SentIds::new(Duration::from_secs(60));
        s.record("abc", "remote_pm");
        assert!(s.knows("abc", None));
        assert!(s.knows("abc", Some("remote_pm")));
        assert!(!s.knows("abc", Some("room_join")));
        assert!(!s.knows("zzz", None));
        assert_eq!(answer(&s, "abc", Some("remote_pm"))["result"], "ok");
        assert_eq!(answer(&s, "nope", None)["result"], "fail");
    }

    #[test]
    fn ids_expire() {
        let s = SentIds::new(Duration::ZERO);
        s.record("a", "x");
        std::thread::sleep(Duration::from_millis(2));
        s.prune();
        assert!(!s.knows("a", None));
        assert!(s.is_empty());
    }

    #[test]
    fn ids_are_random() {
        assert_ne!(new_msg_id(), new_msg_id());
        assert_eq!(new_msg_id().len(), 32);
    }
}
