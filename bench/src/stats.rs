//! Measurements: latency histograms and a server process's CPU time and RSS from /proc.

use hdrhistogram::Histogram;
use serde::Serialize;
use std::sync::{Arc, Mutex, MutexGuard};

/// Latency histogram in nanoseconds, 3 significant digits, up to 10 minutes.
pub type Hist = Histogram<u64>;

/// Phases a scenario can stamp into messages (baseline, disturbed, spare).
pub const PHASES: usize = 3;

/// One histogram per phase.
pub type PhaseHists = [Hist; PHASES];

/// A fresh latency histogram.
pub fn new_hist() -> Hist {
    Histogram::new_with_bounds(1_000, 600_000_000_000, 3).expect("constant bounds are valid")
}

/// Locks, ignoring poisoning (a panicked client task must not stop the report).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Every thread's histograms, merged at the end of a run.
static REGISTRY: Mutex<Vec<Arc<Mutex<PhaseHists>>>> = Mutex::new(Vec::new());

thread_local! {
    // One set per worker thread, not per connection: a thousand per-connection
    // histograms thrash the cache (it showed as 9 % of the generator's CPU).
    static LOCAL: Arc<Mutex<PhaseHists>> = {
        let h = Arc::new(Mutex::new(std::array::from_fn(|_| new_hist())));
        lock(&REGISTRY).push(h.clone());
        h
    };
}

/// Records latency samples `(phase, nanoseconds)` into this thread's histograms.
pub fn record(samples: &[(u8, u64)]) {
    LOCAL.with(|h| {
        let mut g = lock(h);
        for &(p, ns) in samples {
            g[usize::from(p).min(PHASES - 1)].saturating_record(ns);
        }
    });
}

/// All threads' samples so far, merged per phase.
pub fn collect() -> PhaseHists {
    let mut out: PhaseHists = std::array::from_fn(|_| new_hist());
    for h in lock(&REGISTRY).iter() {
        let g = lock(h);
        for (o, src) in out.iter_mut().zip(g.iter()) {
            // Same bounds everywhere and samples clamped at record time: adding cannot fail.
            let _ = o.add(src);
        }
    }
    out
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Latency {
    /// Number of samples.
    pub count: u64,
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Largest sample.
    pub max_ms: f64,
}

impl Latency {
    /// Summarises a histogram.
    pub fn of(h: &Hist) -> Latency {
        if h.is_empty() {
            return Latency::default();
        }
        let ms = |ns: u64| (ns as f64 / 1e6 * 1000.0).round() / 1000.0;
        Latency {
            count: h.len(),
            p50_ms: ms(h.value_at_quantile(0.50)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
        }
    }

    /// `p50/p99/max` for the one-line summaries.
    pub fn short(&self) -> String {
        format!("p50={:.3}ms p99={:.3}ms max={:.3}ms", self.p50_ms, self.p99_ms, self.max_ms)
    }
}

/// Clock ticks per second of /proc/PID/stat; USER_HZ is fixed at 100 on Linux.
const USER_HZ: f64 = 100.0;

/// CPU seconds (user + system, all threads, dead ones included) of a process.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces: fields are counted after its closing parenthesis.
    let rest = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / USER_HZ)
}

/// Busy and total jiffies of the whole machine (/proc/stat), for "was the box saturated?".
pub fn machine_jiffies() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = text.lines().next() else { return (0, 0) };
    let v: Vec<u64> = line.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
    let total: u64 = v.iter().take(8).sum();
    // idle + iowait are not busy
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    (total - idle, total)
}

/// Percentage of all cores busy between two [`machine_jiffies`] readings.
pub fn busy_pct(a: (u64, u64), b: (u64, u64)) -> f64 {
    let total = b.1.saturating_sub(a.1);
    if total == 0 {
        return 0.0;
    }
    100.0 * b.0.saturating_sub(a.0) as f64 / total as f64
}

/// Resident set size of a process in KiB (VmRSS).
pub fn rss_kib(pid: u32) -> Option<u64> {
    status_kib(pid, "VmRSS:")
}

/// One `KEY: N kB` field of /proc/PID/status.
pub fn status_kib(pid: u32, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.starts_with(key))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The process whose numbers a run reports: the server under test, if its PID was given.
#[derive(Clone, Copy, Debug)]
pub struct Server {
    /// Server PID; `None` skips CPU and RSS.
    pub pid: Option<u32>,
}

impl Server {
    /// CPU seconds so far (0 when unknown).
    pub fn cpu(&self) -> f64 {
        self.pid.and_then(cpu_seconds).unwrap_or(0.0)
    }

    /// RSS in KiB (0 when unknown).
    pub fn rss(&self) -> u64 {
        self.pid.and_then(rss_kib).unwrap_or(0)
    }

    /// Anonymous (heap, stacks) and file-backed (code) parts of the RSS, in KiB.
    pub fn rss_parts(&self) -> (u64, u64) {
        let get = |k| self.pid.and_then(|p| status_kib(p, k)).unwrap_or(0);
        (get("RssAnon:"), get("RssFile:"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_process() {
        let me = std::process::id();
        assert!(cpu_seconds(me).is_some());
        assert!(rss_kib(me).unwrap_or(0) > 0);
    }

    #[test]
    fn percentiles_come_out_in_ms() {
        let mut h = new_hist();
        for i in 1..=100u64 {
            h.saturating_record(i * 1_000_000);
        }
        let l = Latency::of(&h);
        assert_eq!(l.count, 100);
        assert!((l.p50_ms - 50.0).abs() < 1.0, "{l:?}");
        assert!((l.max_ms - 100.0).abs() < 1.0, "{l:?}");
    }
}
