//! The load engine: sets up many clients, runs senders, receives and times every delivery.

use crate::client::run_client;
use crate::conn::Conn;
use crate::plan::SenderState;
pub use crate::plan::{ClientPlan, Opts, SendCfg, Shared, State, Target};
use crate::proto::Proto;
use crate::stats::{collect, PhaseHists, PHASES};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;

/// Merged results of all clients.
pub struct Totals {
    /// Deliveries per phase.
    pub delivered: [u64; PHASES],
    /// Latency per phase.
    pub hist: PhaseHists,
    /// Whether the slow client was dropped by the server (slow-reader only).
    pub slow_dropped: Option<bool>,
}

/// A running scenario.
pub struct Load {
    /// Shared counters.
    pub shared: Arc<Shared>,
    handles: Vec<(bool, JoinHandle<()>)>,
    n_senders: usize,
    targets: Vec<Target>,
    /// Seconds the setup took.
    pub setup_secs: f64,
}

impl Load {
    /// Connects, logs in and joins every client, then waits until join traffic has died down.
    pub async fn start(opts: &Opts, plans: Vec<ClientPlan>, cfg: SendCfg) -> Result<Load, String> {
        let t0 = Instant::now();
        let mut rooms: Vec<String> = plans.iter().filter_map(|p| p.room.clone()).collect();
        rooms.sort();
        rooms.dedup();
        if opts.proto != Proto::Irc && !rooms.is_empty() {
            create_rooms(opts, &rooms).await.map_err(|e| format!("creating rooms: {e}"))?;
        }
        let targets: Vec<Target> = plans.iter().filter_map(|p| p.target.clone()).collect();
        let n_senders = targets.len();
        let (state, _) = watch::channel(State::Setup);
        let shared = Arc::new(Shared {
            ready: AtomicUsize::new(0),
            failed: AtomicUsize::new(0),
            errors: Mutex::new(Vec::new()),
            lines: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            phase_delivered: Default::default(),
            slow_dropped: AtomicU8::new(0),
            expected: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            senders_done: AtomicUsize::new(0),
            phase: AtomicU8::new(0),
            sending: AtomicBool::new(true),
            stalls: AtomicU64::new(0),
            closed: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            senders: (0..n_senders).map(|_| SenderState::default()).collect(),
            members: rooms.iter().map(|r| (r.clone(), AtomicU64::new(0))).collect(),
            state,
        });
        let sem = Arc::new(Semaphore::new(opts.setup_concurrency.max(1)));
        let mut handles = Vec::with_capacity(plans.len());
        let mut sender_id = 0u32;
        let n = plans.len();
        for plan in plans {
            let id = plan.target.is_some().then(|| {
                sender_id += 1;
                sender_id - 1
            });
            let (o, s, sem) = (opts.clone(), shared.clone(), sem.clone());
            let slow = plan.slow;
            handles.push((slow, tokio::spawn(async move { run_client(o, s, sem, plan, id, cfg).await })));
        }
        // Wait for every client to be set up or to have failed.
        let deadline = Instant::now() + Duration::from_secs(600);
        while shared.ready.load(Relaxed) + shared.failed.load(Relaxed) < n {
            if Instant::now() > deadline {
                return Err("setup timed out".into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if !opts.cold {
            settle(&shared).await;
        }
        Ok(Load { shared, handles, n_senders, targets, setup_secs: t0.elapsed().as_secs_f64() })
    }

    /// Clients that completed setup.
    pub fn ready(&self) -> usize {
        self.shared.ready.load(Relaxed)
    }

    /// The first setup errors, joined.
    pub fn errors(&self) -> String {
        self.shared.errors.lock().map(|v| v.join(" | ")).unwrap_or_default()
    }

    /// Lets the senders go, each expecting one delivery per other joined member of its room.
    pub fn go(&self) {
        for (st, t) in self.shared.senders.iter().zip(&self.targets) {
            let fan = match t {
                Target::Room(r) => self.shared.members.get(r).map_or(0, |m| m.load(Relaxed).saturating_sub(1)),
                Target::User(_) => 1,
            };
            st.fan.store(fan, Relaxed);
        }
        self.shared.state.send_replace(State::Run);
    }

    /// Sets the phase stamped into messages from now on.
    pub fn set_phase(&self, p: u8) {
        self.shared.phase.store(p, Relaxed);
    }

    /// Tells indefinite senders to stop.
    pub fn stop_sending(&self) {
        self.shared.sending.store(false, Relaxed);
    }

    /// Waits until all senders are done and every expected delivery arrived, or nothing
    /// moved for `stall`. Returns the time of the last delivery seen.
    pub async fn drain(&self, stall: Duration) -> Instant {
        let s = &self.shared;
        let mut last_seen = s.delivered.load(Relaxed);
        let mut last_change = Instant::now();
        loop {
            let d = s.delivered.load(Relaxed);
            if d != last_seen {
                last_seen = d;
                last_change = Instant::now();
            }
            let done = s.senders_done.load(Relaxed) >= self.n_senders;
            if done && d >= s.expected.load(Relaxed) {
                return last_change;
            }
            if last_change.elapsed() > stall {
                return last_change;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Stops every client and merges their results.
    pub async fn finish(self) -> Totals {
        self.stop_sending();
        self.shared.state.send_replace(State::Stop);
        // The slow client checks whether the server dropped it; everyone else just stops.
        for (slow, h) in self.handles {
            if slow {
                let _ = tokio::time::timeout(Duration::from_secs(30), h).await;
            } else {
                h.abort();
            }
        }
        let s = &self.shared;
        Totals {
            delivered: std::array::from_fn(|p| s.phase_delivered[p].load(Relaxed)),
            hist: collect(),
            slow_dropped: match s.slow_dropped.load(Relaxed) {
                0 => None,
                v => Some(v == 2),
            },
        }
    }
}

/// Waits until no line has arrived for 300 ms (join notices of a big room take a while).
async fn settle(shared: &Shared) {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut last = shared.lines.load(Relaxed);
    let mut quiet_since = Instant::now();
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let now = shared.lines.load(Relaxed);
        if now != last {
            last = now;
            quiet_since = Instant::now();
        } else if quiet_since.elapsed() > Duration::from_millis(300) {
            return;
        }
    }
}

/// DMconnect rooms must exist before anyone joins: one owner account creates them.
async fn create_rooms(opts: &Opts, rooms: &[String]) -> std::io::Result<()> {
    let mut c = Conn::connect(opts.addr, 16 * 1024, None, opts.proto.transport()).await?;
    let owner = format!("{}owner", opts.prefix);
    opts.proto.register(&mut c, &owner).await?;
    opts.proto.login(&mut c, &owner).await?;
    for r in rooms {
        opts.proto.create_room(&mut c, r).await?;
    }
    Ok(())
}
