//! What keeps dialbacks from being a weapon: token buckets per source IP and
//! per claimed host, a negative cache of failed (claimed host, source IP)
//! pairs, and a cap on dialbacks in flight. Every map is bounded.

use crate::config::FederationConfig;
use crate::sync::lock;
use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::Instant;

/// Most keys one map holds; beyond it, new keys are refused until old ones expire.
const MAX_KEYS: usize = 16_384;

/// Token buckets by key: `rate` per second, up to `burst` saved.
pub struct Buckets<K> {
    rate: f64,
    burst: f64,
    map: Mutex<HashMap<K, (f64, Instant)>>,
}

impl<K: Hash + Eq + Clone> Buckets<K> {
    /// `rate` 0 means no limit.
    pub fn new(rate: u32, burst: u32) -> Self {
        Buckets { rate: f64::from(rate), burst: f64::from(burst.max(1)), map: Mutex::default() }
    }

    /// Takes one token for `key`; false when none is left.
    pub fn take(&self, key: &K) -> bool {
        if self.rate == 0.0 {
            return true;
        }
        let now = Instant::now();
        let (rate, burst) = (self.rate, self.burst);
        let refill = |(tokens, at): &(f64, Instant)| (tokens + now.duration_since(*at).as_secs_f64() * rate).min(burst);
        let mut m = lock(&self.map);
        if !m.contains_key(key) && m.len() >= MAX_KEYS {
            // A full bucket holds nothing worth remembering.
            m.retain(|_, b| refill(b) < burst);
            if m.len() >= MAX_KEYS {
                return false;
            }
        }
        let b = m.entry(key.clone()).or_insert((burst, now));
        let tokens = refill(b);
        if tokens < 1.0 {
            return false;
        }
        *b = (tokens - 1.0, now);
        true
    }

    /// Gives back a token taken for `key` (the work turned out to be legitimate).
    pub fn give_back(&self, key: &K) {
        if let Some(b) = lock(&self.map).get_mut(key) {
            b.0 = (b.0 + 1.0).min(self.burst);
        }
    }
}

/// Dialback gatekeeping for one node.
pub struct DialbackLimits {
    per_ip: Buckets<IpAddr>,
    per_host: Buckets<String>,
    fail_for: Duration,
    failed: Mutex<HashMap<(String, IpAddr), Instant>>,
    inflight: Option<Semaphore>,
}

impl DialbackLimits {
    /// From `[federation]`.
    pub fn new(c: &FederationConfig) -> Self {
        DialbackLimits {
            per_ip: Buckets::new(c.dialback_rate_per_ip, c.dialback_burst),
            per_host: Buckets::new(c.dialback_rate_per_host, c.dialback_burst),
            fail_for: Duration::from_secs(c.dialback_fail_secs),
            failed: Mutex::default(),
            inflight: (c.max_concurrent_dialbacks > 0).then(|| Semaphore::new(c.max_concurrent_dialbacks)),
        }
    }

    /// Did a dialback for `host` asked from `ip` fail lately?
    pub fn failed_lately(&self, host: &str, ip: IpAddr) -> bool {
        lock(&self.failed).get(&(host.to_owned(), ip)).is_some_and(|t| t.elapsed() < self.fail_for)
    }

    /// Remembers a failed dialback.
    pub fn note_failure(&self, host: &str, ip: IpAddr) {
        if self.fail_for.is_zero() {
            return;
        }
        let mut m = lock(&self.failed);
        if m.len() >= MAX_KEYS {
            let ttl = self.fail_for;
            m.retain(|_, t| t.elapsed() < ttl);
            if m.len() >= MAX_KEYS {
                return;
            }
        }
        m.insert((host.to_owned(), ip), Instant::now());
    }

    /// One token from the source IP's bucket (status requests use only this one).
    pub fn take_ip(&self, ip: IpAddr) -> bool {
        self.per_ip.take(&ip)
    }

    /// One token from both buckets for a dialback about `host` asked from `ip`.
    pub fn take(&self, host: &str, ip: IpAddr) -> bool {
        self.per_ip.take(&ip) && self.per_host.take(&host.to_owned())
    }

    /// A dialback succeeded: its tokens are given back, so verified traffic is never limited.
    pub fn refund(&self, host: &str, ip: IpAddr) {
        self.per_ip.give_back(&ip);
        self.per_host.give_back(&host.to_owned());
    }

    /// A slot for one dialback in flight, waiting at most `wait`; `Err` when none came free.
    pub async fn slot(&self, wait: Duration) -> Result<Option<SemaphorePermit<'_>>, ()> {
        match &self.inflight {
            None => Ok(None),
            Some(s) => match tokio::time::timeout(wait, s.acquire()).await {
                Ok(Ok(p)) => Ok(Some(p)),
                _ => Err(()),
            },
        }
    }

    /// Drops expired negative entries.
    pub fn prune(&self) {
        let ttl = self.fail_for;
        lock(&self.failed).retain(|_, t| t.elapsed() < ttl);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_limit_and_zero_means_off() {
        let b = Buckets::new(1, 3);
        assert!((0..3).all(|_| b.take(&1)));
        assert!(!b.take(&1));
        assert!(b.take(&2));
        b.give_back(&1);
        assert!(b.take(&1));
        assert!(!b.take(&1));
        let off = Buckets::new(0, 1);
        assert!((0..100).all(|_| off.take(&1)));
    }

    #[test]
    fn failures_are_remembered() {
        let c = FederationConfig { dialback_fail_secs: 60, ..FederationConfig::default() };
        let l = DialbackLimits::new(&c);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        assert!(!l.failed_lately("v", ip));
        l.note_failure("v", ip);
        assert!(l.failed_lately("v", ip));
        assert!(!l.failed_lately("w", ip));
    }
}
