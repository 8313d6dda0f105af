//! The basic workloads (login-attack and flood live in their own modules). Each returns its parameters and results as JSON plus a summary line.

use crate::client::retry;
use crate::conn::Conn;
use crate::load::{ClientPlan, Load, Opts, SendCfg, Target};
use crate::proto::Proto;
use crate::stats::{busy_pct, cpu_seconds, machine_jiffies, Latency};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// What a scenario hands back: results as JSON and one human line.
pub struct Outcome {
    /// Numbers, keyed by name.
    pub results: Value,
    /// One summary line.
    pub line: String,
}

fn cores() -> f64 {
    std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64)
}

fn own_cpu() -> f64 {
    cpu_seconds(std::process::id()).unwrap_or(0.0)
}

/// `rooms` × `clients` members; the first `senders` of each room send.
pub fn room_plans(opts: &Opts, rooms: usize, clients: usize, senders: usize) -> Vec<ClientPlan> {
    let mut v = Vec::with_capacity(rooms * clients);
    for r in 0..rooms {
        let room = format!("r{r}");
        for i in 0..clients {
            v.push(ClientPlan {
                name: format!("{}{}", opts.prefix, r * clients + i),
                room: Some(room.clone()),
                target: (i < senders).then(|| Target::Room(room.clone())),
                slow: false,
            });
        }
    }
    v
}

/// Runs senders to completion and reports throughput, CPU and latency.
async fn measure(opts: &Opts, load: Load) -> (Value, Latency) {
    let (cpu0, gen0, t0, m0) = (opts.server.cpu(), own_cpu(), Instant::now(), machine_jiffies());
    load.go();
    // Lines sent in the first second are phase 0, later ones phase 1: the start of a run
    // (right after the joins, with `--cold`) is reported on its own.
    let shared = load.shared.clone();
    let later = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        shared.phase.store(1, Relaxed);
    });
    let t_end = load.drain(Duration::from_secs(5)).await;
    later.abort();
    let secs = t_end.saturating_duration_since(t0).as_secs_f64().max(1e-3);
    let (cpu, gen) = (opts.server.cpu() - cpu0, own_cpu() - gen0);
    let machine = busy_pct(m0, machine_jiffies());
    // CPU used by neither the server nor the generator (other work on the machine, softirqs).
    let other = (machine / 100.0 * cores() * secs - cpu - gen).max(0.0);
    let rss = opts.server.rss();
    let s = load.shared.clone();
    let (ready, setup_secs, errors) = (load.ready(), load.setup_secs, load.errors());
    let t = load.finish().await;
    let delivered = t.delivered.iter().sum::<u64>();
    let first = Latency::of(&t.hist[0]);
    let mut all = t.hist[0].clone();
    for h in &t.hist[1..] {
        // Same bounds everywhere: adding cannot fail.
        let _ = all.add(h);
    }
    let l = Latency::of(&all);
    let v = json!({
        "ready": ready, "setup_secs": round(setup_secs), "errors": errors,
        "sent": s.sent.load(Relaxed), "expected": s.expected.load(Relaxed), "delivered": delivered,
        "lost": s.expected.load(Relaxed).saturating_sub(delivered), "stalls": s.stalls.load(Relaxed),
        "closed_by_server": s.closed.load(Relaxed), "setup_retries": s.retries.load(Relaxed),
        "secs": round(secs), "deliveries_per_s": round(delivered as f64 / secs),
        "server_cpu_s": round(cpu), "server_cpu_pct": round(100.0 * cpu / secs),
        "deliveries_per_cpu_s": if cpu > 0.0 { round(delivered as f64 / cpu) } else { 0.0 },
        "gen_cpu_s": round(gen), "machine_busy_pct": round(machine), "other_cpu_s": round(other), "server_rss_kib": rss,
        "latency": l, "latency_first_s": first, "cold": opts.cold,
    });
    (v, l)
}

/// Rounds to three decimals for the records.
pub fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// The summary line of a throughput scenario; `noun` names what was delivered.
fn throughput_line(r: &serde_json::Value, noun: &str, latency: &str) -> String {
    let num = |k: &str| r[k].as_f64().unwrap_or(0.0);
    format!(
        "ready={} {noun}={} lost={} {noun}/s={:.0} server_cpu={:.2}s {noun}/cpu_s={:.0} {latency}",
        r["ready"],
        r["delivered"],
        r["lost"],
        num("deliveries_per_s"),
        num("server_cpu_s"),
        num("deliveries_per_cpu_s"),
    )
}

/// fanout: R rooms × N clients, S senders per room, M messages each.
pub async fn fanout(
    opts: &Opts,
    rooms: usize,
    clients: usize,
    senders: usize,
    cfg: SendCfg,
    nats: Option<&str>,
) -> Result<Outcome, String> {
    let load = Load::start(opts, room_plans(opts, rooms, clients, senders.min(clients)), cfg).await?;
    let bus = match nats {
        Some(url) => Some(crate::nats::subscribe(url).await.map_err(|e| format!("NATS {url}: {e}"))?),
        None => None,
    };
    let before = bus.as_ref().map(|b| b.snapshot());
    let (mut r, l) = measure(opts, load).await;
    let mut line = throughput_line(&r, "deliveries", &l.short());
    if let (Some(b), Some(before)) = (bus, before) {
        let d = crate::nats::delta(before, b.snapshot(), r["sent"].as_u64().unwrap_or(0));
        line += &format!(" | nats room msgs/line={}", d["room_msgs_per_line"]);
        r["nats"] = d;
    }
    Ok(Outcome { results: r, line })
}

/// pm: P pairs, each side sending M private messages to the other.
pub async fn pm(opts: &Opts, pairs: usize, cfg: SendCfg) -> Result<Outcome, String> {
    let name = |i: usize| format!("{}{}", opts.prefix, i);
    let plans = (0..pairs * 2)
        .map(|i| ClientPlan { name: name(i), room: None, target: Some(Target::User(name(i ^ 1))), slow: false })
        .collect();
    let load = Load::start(opts, plans, cfg).await?;
    let (r, l) = measure(opts, load).await;
    let line = throughput_line(&r, "msgs", &l.short());
    Ok(Outcome { results: r, line })
}

/// idle: C sessions logged in and joined (rooms of `room_size`), then held for `hold`.
pub async fn idle(opts: &Opts, sessions: usize, room_size: usize, hold: Duration) -> Result<Outcome, String> {
    let rss0 = opts.server.rss();
    let parts0 = opts.server.rss_parts();
    let setup_cpu0 = opts.server.cpu();
    let rooms = sessions.div_ceil(room_size.max(1));
    let mut plans = room_plans(opts, rooms, room_size.max(1), 0);
    plans.truncate(sessions);
    let cfg = SendCfg { rate: 0.0, count: Some(0), window: 1, size: 0 };
    let load = Load::start(opts, plans, cfg).await?;
    let rss1 = opts.server.rss();
    let cpu0 = opts.server.cpu();
    tokio::time::sleep(hold).await;
    let rss2 = opts.server.rss();
    let parts2 = opts.server.rss_parts();
    let idle_cpu = opts.server.cpu() - cpu0;
    let ready = load.ready();
    let (setup_secs, errors) = (load.setup_secs, load.errors());
    let closed = load.shared.closed.load(Relaxed);
    load.finish().await;
    let per = if ready > 0 { rss2.saturating_sub(rss0) as f64 / ready as f64 } else { 0.0 };
    let r = json!({
        "ready": ready, "closed_by_server": closed, "setup_secs": round(setup_secs), "errors": errors,
        "rss_before_kib": rss0, "rss_after_setup_kib": rss1, "rss_kib": rss2,
        "rss_per_session_kib": round(per),
        "anon_growth_kib": parts2.0.saturating_sub(parts0.0), "file_growth_kib": parts2.1.saturating_sub(parts0.1), "idle_cpu_pct": round(100.0 * idle_cpu / hold.as_secs_f64()),
        "server_cpu_s": round(opts.server.cpu() - setup_cpu0),
    });
    let line = format!(
        "sessions={ready} rss={:.1}MiB (before {:.1}MiB) per_session={per:.2}KiB setup={setup_secs:.1}s",
        rss2 as f64 / 1024.0,
        rss0 as f64 / 1024.0
    );
    Ok(Outcome { results: r, line })
}

/// DMconnect accounts for the storm are created beforehand: the storm is logins only.
async fn preregister(opts: &Opts, names: &[String]) -> Result<(), String> {
    if opts.proto == Proto::Irc {
        return Ok(());
    }
    let retries = Arc::new(AtomicU64::new(0));
    let sem = Arc::new(Semaphore::new(opts.setup_concurrency.max(1)));
    let mut hs = Vec::new();
    for n in names {
        let (o, n, sem, r) = (opts.clone(), n.clone(), sem.clone(), retries.clone());
        hs.push(tokio::spawn(async move {
            let _p = sem.acquire().await;
            retry(&r, || async {
                let mut c = Conn::connect(o.addr, 4096, None, o.proto.transport()).await?;
                o.proto.register(&mut c, &n).await
            })
            .await
        }));
    }
    for h in hs {
        h.await.map_err(|e| e.to_string())?.map_err(|e| format!("pre-registering: {e}"))?;
    }
    Ok(())
}

/// Runs the logins on a thread of their own at the lowest CPU priority, so that the
/// generator's own connection work does not delay its chat receivers (that would be
/// counted against the server). Reports (failed, first error, retries), then keeps the
/// sessions open until told to close them.
fn storm_thread(
    opts: Opts,
    names: Vec<String>,
    done: tokio::sync::oneshot::Sender<(usize, String, u64)>,
    close: std::sync::mpsc::Receiver<()>,
) {
    // SAFETY: plain syscalls on the calling thread, no memory handed over.
    unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 19);
    }
    let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
        let _ = done.send((names.len(), "no runtime for the storm".into(), 0));
        return;
    };
    let conns = rt.block_on(async {
        let retries = Arc::new(AtomicU64::new(0));
        let mut hs = Vec::with_capacity(names.len());
        for n in names {
            let (o, r) = (opts.clone(), retries.clone());
            hs.push(tokio::spawn(async move {
                retry(&r, || async {
                    let mut c = Conn::connect(o.addr, 4096, None, o.proto.transport()).await?;
                    o.proto.login(&mut c, &n).await.map(|_| c)
                })
                .await
            }));
        }
        let mut conns = Vec::with_capacity(hs.len());
        let mut failed = 0usize;
        let mut first_err = String::new();
        for h in hs {
            match h.await {
                Ok(Ok(c)) => conns.push(c),
                Ok(Err(e)) => {
                    failed += 1;
                    if first_err.is_empty() {
                        first_err = e.to_string();
                    }
                }
                Err(e) => {
                    failed += 1;
                    first_err = e.to_string();
                }
            }
        }
        let _ = done.send((failed, first_err, retries.load(Relaxed)));
        conns
    });
    let _ = close.recv();
    drop(conns);
}

/// login-storm: a rated fanout runs; after `baseline` L clients log in all at once.
pub async fn login_storm(
    opts: &Opts,
    clients: usize,
    senders: usize,
    cfg: SendCfg,
    baseline: Duration,
    logins: usize,
    storm_addr: Option<std::net::SocketAddr>,
) -> Result<Outcome, String> {
    let names: Vec<String> = (0..logins).map(|i| format!("{}s{i}", opts.prefix)).collect();
    let storm_opts = Opts { addr: storm_addr.unwrap_or(opts.addr), ..opts.clone() };
    preregister(&storm_opts, &names).await?;
    let load = Load::start(opts, room_plans(opts, 1, clients, senders.min(clients)), cfg).await?;
    let cpu0 = opts.server.cpu();
    load.go();
    tokio::time::sleep(baseline).await;
    load.set_phase(1);
    let t_storm = Instant::now();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let (close_tx, close_rx) = std::sync::mpsc::channel::<()>();
    let storm = std::thread::spawn(move || storm_thread(storm_opts, names, done_tx, close_rx));
    let (failed, first_err, login_retries) = done_rx.await.map_err(|_| "the storm thread failed".to_string())?;
    let storm_secs = t_storm.elapsed().as_secs_f64();
    load.set_phase(2);
    tokio::time::sleep(Duration::from_millis(500)).await;
    load.stop_sending();
    load.drain(Duration::from_secs(2)).await;
    let cpu = opts.server.cpu() - cpu0;
    let ready = load.ready();
    let errors = load.errors();
    let t = load.finish().await;
    let _ = close_tx.send(());
    let _ = storm.join();
    let (l0, l1) = (Latency::of(&t.hist[0]), Latency::of(&t.hist[1]));
    let ratio = if l0.p99_ms > 0.0 { round(l1.p99_ms / l0.p99_ms) } else { 0.0 };
    let r = json!({
        "ready": ready, "errors": errors, "logins": logins, "logins_ok": logins - failed, "logins_failed": failed,
        "login_error": first_err, "login_retries": login_retries, "storm_secs": round(storm_secs),
        "logins_per_s": round((logins - failed) as f64 / storm_secs.max(1e-3)),
        "baseline": l0, "storm": l1, "p99_ratio": ratio, "server_cpu_s": round(cpu),
    });
    let line = format!(
        "logins={}/{logins} in {storm_secs:.2}s; baseline {} | storm {} | p99 ratio {ratio:.2}",
        logins - failed,
        l0.short(),
        l1.short()
    );
    Ok(Outcome { results: r, line })
}

/// slow-reader: a rated fanout; one member stops reading after `baseline`.
pub async fn slow_reader(
    opts: &Opts,
    clients: usize,
    senders: usize,
    cfg: SendCfg,
    baseline: Duration,
    slow_for: Duration,
) -> Result<Outcome, String> {
    let mut plans = room_plans(opts, 1, clients, senders.min(clients));
    plans.push(ClientPlan { name: format!("{}slow", opts.prefix), room: Some("r0".into()), target: None, slow: true });
    let load = Load::start(opts, plans, cfg).await?;
    let server = opts.server;
    let cpu0 = server.cpu();
    let t0 = Instant::now();
    let sampler = tokio::spawn(async move {
        let mut v: Vec<(f64, u64)> = Vec::new();
        while t0.elapsed() < baseline + slow_for + Duration::from_millis(400) {
            v.push((round(t0.elapsed().as_secs_f64()), server.rss()));
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        v
    });
    load.go();
    tokio::time::sleep(baseline).await;
    load.set_phase(1);
    tokio::time::sleep(slow_for).await;
    load.stop_sending();
    let samples = sampler.await.unwrap_or_default();
    let cpu = server.cpu() - cpu0;
    let ready = load.ready();
    let errors = load.errors();
    let t = load.finish().await;
    let b = baseline.as_secs_f64();
    let at_start = samples.iter().find(|(t, _)| *t >= b).map_or(0, |s| s.1);
    let max = samples.iter().filter(|(t, _)| *t >= b).map(|s| s.1).max().unwrap_or(0);
    let end = samples.last().map_or(0, |s| s.1);
    let (l0, l1) = (Latency::of(&t.hist[0]), Latency::of(&t.hist[1]));
    let ratio = if l0.p99_ms > 0.0 { round(l1.p99_ms / l0.p99_ms) } else { 0.0 };
    let dropped = t.slow_dropped.unwrap_or(false);
    let r = json!({
        "ready": ready, "errors": errors, "baseline": l0, "slow": l1, "p99_ratio": ratio,
        "rss_at_slow_start_kib": at_start, "rss_max_kib": max, "rss_end_kib": end,
        "rss_growth_kib": max.saturating_sub(at_start), "slow_reader_dropped": dropped, "server_cpu_s": round(cpu),
        "rss_samples": samples,
    });
    let line = format!(
        "baseline {} | slow {} | p99 ratio {ratio:.2} | rss {:.1}->{:.1}MiB (max {:.1}) dropped={dropped}",
        l0.short(),
        l1.short(),
        at_start as f64 / 1024.0,
        end as f64 / 1024.0,
        max as f64 / 1024.0
    );
    Ok(Outcome { results: r, line })
}
