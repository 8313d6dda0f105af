//! What this server sent, so that a `dialback_check` about it can be judged.
//!
//! Every request we send with a `msg_id` is recorded under that id: the host it
//! went TO, its type, a keyed hash of each field (so a check echoing a field can
//! be compared without keeping the text) and a digest of all fields (which our
//! own checks carry, so even long texts are compared). A record vouches at most
//! `max_uses` times (retries), and only for a few minutes.
//!
//! In a cluster the records live in a store every node reads ([`SharedSent`],
//! a NATS JetStream KV bucket), so any node can judge a check about any node's
//! message, even after that node died. A record is written there before the
//! message leaves; when the store cannot take it, it stays in this node's memory
//! and the other nodes ask this one over the bus (the single-node path).

use crate::bus::SharedSent;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::oneshot;
use tokio::time::Instant;

/// A fresh message id: 128 random bits as hex.
pub fn new_msg_id() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Most ids remembered at once; the oldest go first beyond this.
const MAX_SENT: usize = 200_000;

/// Keys that frame a request rather than say something: never compared.
const ENVELOPE: [&str; 5] = ["type", "from_host", "msg_id", "msg_type", "digest"];

/// The fields of `msg` that say something, sorted by name.
pub fn significant(msg: &Value) -> Vec<(&str, &Value)> {
    let mut out: Vec<(&str, &Value)> = match msg.as_object() {
        Some(m) => m.iter().map(|(k, v)| (k.as_str(), v)).filter(|(k, _)| !ENVELOPE.contains(k)).collect(),
        None => Vec::new(),
    };
    out.sort_by(|a, b| a.0.cmp(b.0));
    out
}

/// SHA-256 (hex) over every significant field of `msg`, in a canonical form both sides compute alike.
pub fn digest(msg: &Value) -> String {
    let mut h = Sha256::new();
    for (k, v) in significant(msg) {
        h.update(k.as_bytes());
        h.update([0]);
        h.update(v.to_string().as_bytes());
        h.update([0]);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Why a check is refused (logged, never sent).
pub type Refusal = &'static str;

/// The refusal for an id this node did not send (in a cluster another node may have).
pub const UNKNOWN: Refusal = "unknown msg_id";

struct Record {
    at: Instant,
    host: String,
    kind: String,
    fields: Vec<u64>,
    digest: String,
    uses: u32,
}

#[derive(Default)]
struct Sent {
    order: VecDeque<(Instant, String)>,
    ids: HashMap<String, Record>,
}

/// A record as the shared store keeps it. Its field hashes are unkeyed: every
/// node must compute them alike (the bus carries the texts themselves anyway).
#[derive(Serialize, Deserialize)]
struct SharedRecord {
    /// When it was sent (Unix ms): the lifetime counts from here, not from the last use.
    at_ms: u64,
    host: String,
    kind: String,
    fields: Vec<u64>,
    digest: String,
    uses: u32,
}

impl SharedRecord {
    fn of(host: &str, msg: &Value) -> SharedRecord {
        SharedRecord {
            at_ms: now_ms(),
            host: host.to_owned(),
            kind: msg.get("type").and_then(Value::as_str).unwrap_or("").to_owned(),
            fields: significant(msg).into_iter().map(|(k, v)| hash_field(None, k, v)).collect(),
            digest: digest(msg),
            uses: 0,
        }
    }
}

/// The parts of a record a check is judged against.
struct View<'a> {
    expired: bool,
    uses: u32,
    host: &'a str,
    kind: &'a str,
    fields: &'a [u64],
    digest: &'a str,
}

/// Attempts at counting a use in the shared store when other nodes count at the same time.
const CAS_TRIES: usize = 8;

/// The requests this server sent recently.
pub struct SentIds {
    ttl: Duration,
    max_uses: u32,
    key: [u8; 32],
    inner: Mutex<Sent>,
    shared: OnceLock<Arc<dyn SharedSent>>,
    /// The shared store refused a write lately (logged once per change).
    degraded: AtomicBool,
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// The store key of a message id: ids are chosen by us but may come from a plugin, so hashed.
fn store_key(id: &str) -> String {
    Sha256::digest(id.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn hash_field(key: Option<&[u8; 32]>, k: &str, v: &Value) -> u64 {
    let mut h = Sha256::new();
    if let Some(key) = key {
        h.update(key);
    }
    h.update(k.as_bytes());
    h.update([0]);
    h.update(v.to_string().as_bytes());
    let out = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&out[..8]);
    u64::from_le_bytes(first)
}

/// Today's rule, wherever the record is kept: one host, one message, a few uses.
fn judge_view(rec: &View, check: &Value, hash: impl Fn(&str, &Value) -> u64, max_uses: u32) -> Result<(), Refusal> {
    if rec.expired {
        return Err("expired msg_id");
    }
    if rec.uses >= max_uses {
        return Err("msg_id already vouched for too often");
    }
    if check.get("from_host").and_then(Value::as_str) != Some(rec.host) {
        return Err("message was sent to another host");
    }
    match check.get("msg_type") {
        None | Some(Value::Null) => {}
        Some(Value::String(t)) if t.is_empty() || t == rec.kind => {}
        Some(_) => return Err("message type differs"),
    }
    if let Some(d) = check.get("digest") {
        if d.as_str() != Some(rec.digest) {
            return Err("digest differs");
        }
    }
    for (k, v) in significant(check) {
        if !rec.fields.contains(&hash(k, v)) {
            return Err("a field differs from what we sent, or was not sent");
        }
    }
    Ok(())
}

impl SentIds {
    /// Remembers ids for `ttl`; each vouches at most `max_uses` times.
    pub fn new(ttl: Duration, max_uses: u32) -> SentIds {
        SentIds {
            ttl,
            max_uses: max_uses.max(1),
            key: rand::random(),
            inner: Mutex::default(),
            shared: OnceLock::new(),
            degraded: AtomicBool::new(false),
        }
    }

    /// Keeps records in `store` from now on (cluster mode, once at start).
    pub fn set_shared(&self, store: Arc<dyn SharedSent>) {
        let _ = self.shared.set(store);
    }

    /// How long a record vouches.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Sent> {
        crate::sync::lock(&self.inner)
    }

    fn field_hash(&self, k: &str, v: &Value) -> u64 {
        hash_field(Some(&self.key), k, v)
    }

    /// Remembers that we sent `msg` (which carries `msg_id` and `type`) to `host`.
    /// With a shared store, the record goes there: the message must not leave
    /// before the returned receiver fires (it does once the record is stored
    /// somewhere, here if the store refused it).
    pub fn record(self: &Arc<Self>, id: &str, host: &str, msg: &Value) -> Option<oneshot::Receiver<()>> {
        let Some(store) = self.shared.get().cloned() else {
            self.record_here(id, host, msg);
            return None;
        };
        let body = match serde_json::to_vec(&SharedRecord::of(host, msg)) {
            Ok(b) => b,
            Err(_) => {
                self.record_here(id, host, msg);
                return None;
            }
        };
        let (tx, rx) = oneshot::channel();
        let (me, id, host, msg) = (self.clone(), id.to_owned(), host.to_owned(), msg.clone());
        tokio::spawn(async move {
            let stored = store.put(store_key(&id), body).await;
            if !stored {
                me.record_here(&id, &host, &msg);
            }
            me.note_store(stored);
            let _ = tx.send(());
        });
        Some(rx)
    }

    /// Logs when the shared store starts or stops taking records.
    fn note_store(&self, ok: bool) {
        if self.degraded.swap(!ok, Ordering::Relaxed) == ok {
            if ok {
                tracing::info!("federation: sent-message records are in the shared store again");
            } else {
                tracing::warn!(
                    "federation: the shared store (JetStream) refused a sent-message record; keeping it on this node \
                     (other nodes ask this one over NATS; it is lost if this node dies)"
                );
            }
        }
    }

    /// Remembers `msg` in this node's memory.
    pub fn record_here(&self, id: &str, host: &str, msg: &Value) {
        let now = Instant::now();
        let rec = Record {
            at: now,
            host: host.to_owned(),
            kind: msg.get("type").and_then(Value::as_str).unwrap_or("").to_owned(),
            fields: significant(msg).into_iter().map(|(k, v)| self.field_hash(k, v)).collect(),
            digest: digest(msg),
            uses: 0,
        };
        let mut s = self.lock();
        s.order.push_back((now, id.to_owned()));
        s.ids.insert(id.to_owned(), rec);
        Self::expire(&mut s, now, self.ttl);
    }

    /// Judges a `dialback_check` against what we sent. On success returns the
    /// host the message went to (the caller still checks the caller's address,
    /// then calls [`SentIds::vouch`]).
    pub fn judge(&self, check: &Value) -> Result<String, Refusal> {
        let id = check.get("msg_id").and_then(Value::as_str).ok_or("no msg_id")?;
        let s = self.lock();
        let rec = s.ids.get(id).ok_or(UNKNOWN)?;
        let view = View {
            expired: rec.at.elapsed() > self.ttl,
            uses: rec.uses,
            host: &rec.host,
            kind: &rec.kind,
            fields: &rec.fields,
            digest: &rec.digest,
        };
        judge_view(&view, check, |k, v| self.field_hash(k, v), self.max_uses)?;
        Ok(rec.host.clone())
    }

    /// The shared record of the check's id and its revision (`None`: no store,
    /// not there, or the store cannot be read now).
    async fn shared_record(&self, id: &str) -> Option<(SharedRecord, u64)> {
        let store = self.shared.get()?;
        let (body, rev) = store.get(store_key(id)).await?;
        match serde_json::from_slice(&body) {
            Ok(r) => Some((r, rev)),
            Err(e) => {
                tracing::warn!(msg_id = id, "federation: unreadable shared sent-message record: {e}");
                None
            }
        }
    }

    fn judge_shared_record(&self, rec: &SharedRecord, check: &Value) -> Result<(), Refusal> {
        let view = View {
            expired: now_ms().saturating_sub(rec.at_ms) > self.ttl.as_millis() as u64,
            uses: rec.uses,
            host: &rec.host,
            kind: &rec.kind,
            fields: &rec.fields,
            digest: &rec.digest,
        };
        judge_view(&view, check, |k, v| hash_field(None, k, v), self.max_uses)
    }

    /// Judges a check against the shared store, like [`SentIds::judge`]:
    /// `Err(UNKNOWN)` when the store has no such id (or cannot be read).
    pub async fn judge_shared(&self, check: &Value) -> Result<String, Refusal> {
        let id = check.get("msg_id").and_then(Value::as_str).ok_or("no msg_id")?;
        let (rec, _) = self.shared_record(id).await.ok_or(UNKNOWN)?;
        self.judge_shared_record(&rec, check)?;
        Ok(rec.host)
    }

    /// Counts one vouching in the shared store (compare-and-set on the record's
    /// revision, so nodes counting at once cannot exceed `max_uses`); false when
    /// used up or the store cannot be written.
    pub async fn vouch_shared(&self, check: &Value) -> bool {
        let (Some(store), Some(id)) = (self.shared.get(), check.get("msg_id").and_then(Value::as_str)) else {
            return false;
        };
        for _ in 0..CAS_TRIES {
            let Some((mut rec, rev)) = self.shared_record(id).await else { return false };
            if self.judge_shared_record(&rec, check).is_err() {
                return false;
            }
            rec.uses += 1;
            let Ok(body) = serde_json::to_vec(&rec) else { return false };
            match store.update(store_key(id), body, rev).await {
                Some(true) => return true,
                Some(false) => continue,
                None => return false,
            }
        }
        false
    }

    /// Counts one vouching for `id`; false when it was used up meanwhile.
    pub fn vouch(&self, id: &str) -> bool {
        let mut s = self.lock();
        match s.ids.get_mut(id) {
            Some(r) if r.uses < self.max_uses => {
                r.uses += 1;
                true
            }
            _ => false,
        }
    }

    /// Judges and counts a check that reached another node of the cluster (which
    /// already checked the caller's address): `None` when this node did not send the id.
    pub fn vouch_for_node(&self, check: &Value) -> Option<bool> {
        match self.judge(check) {
            Err(UNKNOWN) => None,
            Err(why) => {
                tracing::debug!(msg_id = ?check.get("msg_id"), "forwarded dialback check refused: {why}");
                Some(false)
            }
            Ok(_) => Some(check.get("msg_id").and_then(Value::as_str).is_some_and(|i| self.vouch(i))),
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
            if s.ids.get(&id).is_some_and(|r| r.at == at) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sent() -> (SentIds, Value) {
        let s = SentIds::new(Duration::from_secs(60), 2);
        let m = json!({"type":"remote_pm","from_host":"me","msg_id":"abc","sender":"a","recipient":"b","message":"hi"});
        s.record_here("abc", "peer", &m);
        (s, m)
    }

    fn check(extra: Value) -> Value {
        let mut c = json!({"type":"dialback_check","msg_id":"abc","msg_type":"remote_pm","from_host":"peer"});
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    }

    #[test]
    fn a_check_must_match_host_type_and_fields() {
        let (s, m) = sent();
        assert_eq!(s.judge(&check(json!({"sender":"a","message":"hi"}))), Ok("peer".into()));
        assert_eq!(s.judge(&check(json!({"digest": digest(&m)}))), Ok("peer".into()));
        assert!(s.judge(&check(json!({"from_host":"other"}))).is_err());
        assert!(s.judge(&check(json!({"msg_type":"room_join"}))).is_err());
        assert!(s.judge(&check(json!({"message":"forged"}))).is_err());
        assert!(s.judge(&check(json!({"room":"general"}))).is_err());
        assert!(s.judge(&check(json!({"digest":"00"}))).is_err());
        assert!(s.judge(&check(json!({"msg_id":"zzz"}))).is_err());
    }

    #[test]
    fn vouching_is_bounded() {
        let (s, _) = sent();
        assert!(s.vouch("abc") && s.vouch("abc"));
        assert!(!s.vouch("abc"));
        assert!(s.judge(&check(json!({}))).is_err());
    }

    #[test]
    fn checks_forwarded_by_another_node() {
        let (s, _) = sent();
        assert_eq!(s.vouch_for_node(&check(json!({"msg_id":"zzz"}))), None, "not ours");
        assert_eq!(s.vouch_for_node(&check(json!({"message":"forged"}))), Some(false));
        assert_eq!(s.vouch_for_node(&check(json!({"sender":"a"}))), Some(true));
        assert_eq!(s.vouch_for_node(&check(json!({}))), Some(true));
        assert_eq!(s.vouch_for_node(&check(json!({}))), Some(false), "used up");
    }

    #[test]
    fn shared_records_follow_the_same_rule() {
        let s = SentIds::new(Duration::from_secs(60), 2);
        let m = json!({"type":"remote_pm","from_host":"me","msg_id":"abc","sender":"a","recipient":"b","message":"hi"});
        // Another node built it: unkeyed hashes, so any node judges alike.
        let mut rec: SharedRecord =
            serde_json::from_slice(&serde_json::to_vec(&SharedRecord::of("peer", &m)).unwrap()).unwrap();
        assert_eq!(s.judge_shared_record(&rec, &check(json!({"sender":"a","message":"hi"}))), Ok(()));
        assert!(s.judge_shared_record(&rec, &check(json!({"from_host":"other"}))).is_err());
        assert!(s.judge_shared_record(&rec, &check(json!({"message":"forged"}))).is_err());
        rec.uses = 2;
        assert!(s.judge_shared_record(&rec, &check(json!({}))).is_err(), "used up");
        rec.uses = 0;
        rec.at_ms -= 61_000;
        assert!(s.judge_shared_record(&rec, &check(json!({}))).is_err(), "expired");
        assert_ne!(store_key("abc"), "abc");
    }

    #[test]
    fn ids_expire() {
        let s = SentIds::new(Duration::ZERO, 3);
        s.record_here("a", "h", &json!({"type":"x"}));
        std::thread::sleep(Duration::from_millis(2));
        s.prune();
        assert!(s.is_empty());
    }

    #[test]
    fn digest_ignores_the_envelope_and_key_order() {
        let a = json!({"type":"t","msg_id":"1","from_host":"h","b":1,"a":{"text":"x"}});
        let b = json!({"a":{"text":"x"},"b":1});
        assert_eq!(digest(&a), digest(&b));
        assert_ne!(digest(&a), digest(&json!({"a":{"text":"y"},"b":1})));
    }
}
