//! login-attack: N connections guess one account's password as fast as the server
//! answers, while real users keep logging in with the right password from other
//! addresses. DMconnect only: IRC servers have no accounts to attack.

use crate::conn::Conn;
use crate::plan::Opts;
use crate::proto::{Proto, PASSWORD};
use crate::scenarios::{round, Outcome};
use crate::stats::{new_hist, Hist, Latency};
use serde_json::{json, Value};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Reply texts (docs/protocol.md) an attempt can be answered with.
const BAD_LOGIN: &str = "Invalid username or password.";
const TOO_MANY_LOGINS: &str = "Too many failed logins; try again later.";
const BUSY: &str = "The server is busy; try again in a moment.";
const LOGGED_IN: &str = "Login successful.";

/// The real users' addresses: never used by an attacker.
const REAL_IPS: [Ipv4Addr; 2] = [Ipv4Addr::new(127, 0, 0, 2), Ipv4Addr::new(127, 0, 0, 3)];

/// Attack settings.
#[derive(Clone, Copy, Debug)]
pub struct AttackCfg {
    /// Attacking connections.
    pub attackers: usize,
    /// Source addresses they are spread over (127.0.0.10, .11, …).
    pub attack_ips: usize,
    /// How long the attack runs.
    pub secs: Duration,
    /// Pause between two logins of a real user.
    pub pause: Duration,
}

/// Answers the attackers got.
#[derive(Default)]
struct Counts {
    bad: AtomicU64,
    limited: AtomicU64,
    busy: AtomicU64,
    other: AtomicU64,
    /// Connections the server closed (the attacker reconnects).
    closed: AtomicU64,
    connect_failed: AtomicU64,
}

/// What one real user saw.
struct Real {
    hist: Hist,
    refused: u64,
    errors: u64,
    first_problem: String,
}

/// Source address on loopback; `None` when the server is elsewhere (no aliases to use).
fn source(opts: &Opts, ip: Ipv4Addr) -> Option<IpAddr> {
    (opts.addr.ip().is_loopback() && opts.addr.is_ipv4()).then_some(IpAddr::V4(ip))
}

fn attack_ip(i: usize, spread: usize) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, 10 + (i % spread.clamp(1, 200)) as u8)
}

/// Sends `/login NAME PASSWORD`; returns the time to the answer and the refusal, if any.
async fn login_once(c: &mut Conn, name: &str, password: &str) -> std::io::Result<(Duration, Option<String>)> {
    let t = Instant::now();
    c.send_line(&format!("/login {name} {password}")).await?;
    let refusal = c
        .expect(|l| match l {
            LOGGED_IN => Some(None),
            _ if l.starts_with("Enter command") || l.starts_with("*Ping") => None,
            _ => Some(Some(l.to_string())),
        })
        .await?;
    Ok((t.elapsed(), refusal))
}

async fn attacker(opts: Opts, from: Option<IpAddr>, victim: String, stop: Arc<AtomicBool>, n: Arc<Counts>) {
    let mut guess = 0u64;
    while !stop.load(Relaxed) {
        let Ok(mut c) = Conn::connect_from(opts.addr, from, 4096, None, opts.proto.transport()).await else {
            n.connect_failed.fetch_add(1, Relaxed);
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        while !stop.load(Relaxed) {
            guess += 1;
            match login_once(&mut c, &victim, &format!("wrong{guess}")).await {
                Ok((_, Some(l))) if l == BAD_LOGIN => &n.bad,
                Ok((_, Some(l))) if l == TOO_MANY_LOGINS => &n.limited,
                Ok((_, Some(l))) if l == BUSY => &n.busy,
                Ok(_) => &n.other,
                Err(_) => {
                    if !stop.load(Relaxed) {
                        n.closed.fetch_add(1, Relaxed);
                    }
                    break;
                }
            }
            .fetch_add(1, Relaxed);
        }
    }
}

/// Logs in on a fresh connection, closes it, pauses, again, until told to stop.
async fn real_user(opts: Opts, from: Option<IpAddr>, name: String, pause: Duration, stop: Arc<AtomicBool>) -> Real {
    let mut r = Real { hist: new_hist(), refused: 0, errors: 0, first_problem: String::new() };
    while !stop.load(Relaxed) {
        let res = match Conn::connect_from(opts.addr, from, 4096, None, opts.proto.transport()).await {
            Ok(mut c) => login_once(&mut c, &name, PASSWORD).await,
            Err(e) => Err(e),
        };
        match res {
            Ok((t, None)) => {
                r.hist.saturating_record(t.as_nanos() as u64);
            }
            Ok((_, Some(line))) => {
                r.refused += 1;
                if r.first_problem.is_empty() {
                    r.first_problem = line;
                }
            }
            Err(e) => {
                r.errors += 1;
                if r.first_problem.is_empty() {
                    r.first_problem = e.to_string();
                }
            }
        }
        tokio::time::sleep(pause).await;
    }
    r
}

fn real_json(r: &Real) -> (Value, Latency) {
    let l = Latency::of(&r.hist);
    let v = json!({"logins_ok": r.hist.len(), "refused": r.refused, "errors": r.errors,
                   "first_problem": r.first_problem, "latency": l});
    (v, l)
}

/// login-attack: see the module doc.
pub async fn login_attack(opts: &Opts, cfg: AttackCfg) -> Result<Outcome, String> {
    if opts.proto == Proto::Irc {
        return Err("login-attack needs DMconnect accounts (IRC has no equivalent)".into());
    }
    let victim = format!("{}victim", opts.prefix);
    let other = format!("{}other", opts.prefix);
    let reals = [(victim.clone(), REAL_IPS[0]), (other, REAL_IPS[1])];
    for (name, ip) in &reals {
        let mut c = Conn::connect_from(opts.addr, source(opts, *ip), 4096, None, opts.proto.transport())
            .await
            .map_err(|e| format!("connecting to register {name}: {e}"))?;
        opts.proto.register(&mut c, name).await.map_err(|e| format!("registering {name}: {e}"))?;
    }
    let (cpu0, rss0) = (opts.server.cpu(), opts.server.rss());
    let stop = Arc::new(AtomicBool::new(false));
    let counts = Arc::new(Counts::default());
    let t0 = Instant::now();
    let attackers: Vec<_> = (0..cfg.attackers)
        .map(|i| {
            let from = source(opts, attack_ip(i, cfg.attack_ips));
            tokio::spawn(attacker(opts.clone(), from, victim.clone(), stop.clone(), counts.clone()))
        })
        .collect();
    let users: Vec<_> = reals
        .into_iter()
        .map(|(name, ip)| tokio::spawn(real_user(opts.clone(), source(opts, ip), name, cfg.pause, stop.clone())))
        .collect();
    tokio::time::sleep(cfg.secs).await;
    stop.store(true, Relaxed);
    let secs = t0.elapsed().as_secs_f64();
    let (cpu, rss1) = (opts.server.cpu() - cpu0, opts.server.rss());
    for a in &attackers {
        a.abort();
    }
    let mut real = Vec::new();
    for u in users {
        // A login held back by the limits may take up to 30 s to be answered.
        match tokio::time::timeout(Duration::from_secs(40), u).await {
            Ok(Ok(r)) => real.push(r),
            _ => return Err("a real user's login never finished".into()),
        }
    }
    let get = |a: &AtomicU64| a.load(Relaxed);
    let answered = get(&counts.bad) + get(&counts.limited) + get(&counts.busy) + get(&counts.other);
    let (owner, owner_l) = real_json(&real[0]);
    let (second, second_l) = real_json(&real[1]);
    let r = json!({
        "attackers": cfg.attackers, "attack_ips": cfg.attack_ips, "secs": round(secs),
        "attempts_answered": answered, "attempts_per_s": round(answered as f64 / secs),
        "bad_password": get(&counts.bad), "too_many_logins": get(&counts.limited), "busy": get(&counts.busy),
        "other_answers": get(&counts.other), "attacker_disconnects": get(&counts.closed),
        "attacker_connect_failures": get(&counts.connect_failed),
        "owner": owner, "second_account": second,
        "server_cpu_s": round(cpu), "rss_before_kib": rss0, "rss_after_kib": rss1,
    });
    let line = format!(
        "attempts/s={:.0} (bad={} limited={} busy={}) attacker_disconnects={} | owner ok={} {} refused={} errors={} \
         | second ok={} {} | server_cpu={cpu:.2}s",
        answered as f64 / secs,
        get(&counts.bad),
        get(&counts.limited),
        get(&counts.busy),
        get(&counts.closed),
        owner_l.count,
        owner_l.short(),
        real[0].refused,
        real[0].errors,
        second_l.count,
        second_l.short(),
    );
    Ok(Outcome { results: r, line })
}
