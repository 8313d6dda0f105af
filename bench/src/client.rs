//! One simulated client: setup, the receive loop that times deliveries, and its sender.

use crate::conn::{send_line, Conn, Writer};
use crate::payload::{encode, now_nanos, Decoder, Stamp};
use crate::plan::{ClientPlan, Opts, SendCfg, Shared, State, Target};
use crate::stats::{record, PHASES};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Semaphore};

/// Sets the client up, then receives until the run stops.
pub async fn run_client(
    opts: Opts,
    shared: Arc<Shared>,
    sem: Arc<Semaphore>,
    plan: ClientPlan,
    sender_id: Option<u32>,
    cfg: SendCfg,
) {
    let conn = {
        let _permit = sem.acquire().await;
        setup(&opts, &plan, &shared).await
    };
    let mut conn = match conn {
        Ok(c) => c,
        Err(e) => {
            if sender_id.is_some() {
                shared.senders_done.fetch_add(1, Relaxed);
            }
            shared.error(format!("{}: {e}", plan.name));
            return;
        }
    };
    if let Some(room) = &plan.room {
        if let Some(m) = shared.members.get(room) {
            m.fetch_add(1, Relaxed);
        }
    }
    let state = shared.state.subscribe();
    if let (Some(id), Some(target)) = (sender_id, plan.target.clone()) {
        let (s, w, st) = (shared.clone(), conn.wr.clone(), state.clone());
        tokio::spawn(async move { send_loop(opts.proto, s, w, st, id, target, cfg).await });
    }
    shared.ready.fetch_add(1, Relaxed);
    receive(&mut conn, &shared, state, sender_id, plan.slow).await
}

/// Runs `step` up to eight times with growing pauses, as a real client reconnects (a peer
/// with a short listen backlog resets some connections of a burst).
pub async fn retry<T, F, Fut>(retries: &AtomicU64, mut step: F) -> std::io::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = std::io::Result<T>>,
{
    let mut attempt = 0u32;
    loop {
        match step().await {
            Ok(v) => return Ok(v),
            Err(e) if attempt >= 7 => return Err(e),
            Err(_) => {
                attempt += 1;
                retries.fetch_add(1, Relaxed);
                // Jittered, so that a burst of reset clients does not come back in lockstep.
                let base = (200 * u64::from(attempt)).min(1000);
                let jitter = now_nanos().wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 54; // 0..1023
                tokio::time::sleep(Duration::from_millis(base / 2 + jitter % base)).await;
            }
        }
    }
}

/// Connect, log in, join (retried).
async fn setup(opts: &Opts, plan: &ClientPlan, shared: &Shared) -> std::io::Result<Conn> {
    retry(&shared.retries, || setup_once(opts, plan)).await
}

async fn setup_once(opts: &Opts, plan: &ClientPlan) -> std::io::Result<Conn> {
    let rcvbuf = plan.slow.then_some(4096);
    let mut c = tokio::time::timeout(
        Duration::from_secs(30),
        Conn::connect(opts.addr_for(&plan.name), opts.buf_size, rcvbuf, opts.proto.transport()),
    )
    .await
    .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))??;
    opts.proto.register(&mut c, &plan.name).await?;
    opts.proto.login(&mut c, &plan.name).await?;
    if let Some(room) = &plan.room {
        opts.proto.join(&mut c, room).await?;
    }
    Ok(c)
}

/// Reads lines until the run stops (the engine aborts this task), timing every stamped message.
async fn receive(c: &mut Conn, shared: &Shared, mut state: watch::Receiver<State>, me: Option<u32>, slow: bool) {
    let dec = Decoder::default();
    let mut per_sender: Vec<(u32, u64)> = Vec::new();
    let mut samples: Vec<(u8, u64)> = Vec::new();
    let mut pongs: Vec<String> = Vec::new();
    loop {
        let n = if slow {
            if shared.phase.load(Relaxed) >= 1 {
                let _ = state.wait_for(|s| *s == State::Stop).await;
                let dropped = drained_to_eof(c).await;
                shared.slow_dropped.store(if dropped { 2 } else { 1 }, Relaxed);
                return;
            }
            // Wake now and then so the slow client notices its phase change.
            match tokio::time::timeout(Duration::from_millis(50), c.fill()).await {
                Err(_) => continue,
                Ok(r) => r.unwrap_or(0),
            }
        } else {
            c.fill().await.unwrap_or(0)
        };
        if n == 0 {
            shared.closed.fetch_add(1, Relaxed);
            return;
        }
        let now = now_nanos();
        let mut lines = 0u64;
        while let Some(line) = c.next_line() {
            lines += 1;
            if let Some(st) = dec.decode(line) {
                if Some(st.sender) == me {
                    continue; // DMconnect echoes chat to its sender; IRC does not: count neither.
                }
                samples.push((st.phase, now.saturating_sub(st.nanos)));
                match per_sender.iter_mut().find(|(s, _)| *s == st.sender) {
                    Some(e) => e.1 += 1,
                    None => per_sender.push((st.sender, 1)),
                }
            } else if let Some(tok) = line.strip_prefix(b"PING ") {
                pongs.push(format!("PONG {}", String::from_utf8_lossy(tok)));
            }
        }
        shared.lines.fetch_add(lines, Relaxed);
        if !samples.is_empty() {
            record(&samples);
            let mut per_phase = [0u64; PHASES];
            for &(p, _) in &samples {
                per_phase[usize::from(p).min(PHASES - 1)] += 1;
            }
            for (p, k) in per_phase.iter().enumerate().filter(|(_, k)| **k > 0) {
                shared.phase_delivered[p].fetch_add(*k, Relaxed);
            }
            shared.delivered.fetch_add(samples.len() as u64, Relaxed);
            samples.clear();
            for (s, k) in per_sender.drain(..) {
                if let Some(ss) = shared.senders.get(s as usize) {
                    ss.delivered.fetch_add(k, Relaxed);
                    ss.notify.notify_one();
                }
            }
        }
        for p in pongs.drain(..) {
            let _ = send_line(&c.wr, &p).await;
        }
    }
}

/// After the run: reads what piled up; true if the server had closed the connection.
async fn drained_to_eof(c: &mut Conn) -> bool {
    let mut total = 0usize;
    loop {
        match tokio::time::timeout(Duration::from_secs(1), c.fill()).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(n)) => {
                total += n;
                while c.next_line().is_some() {}
                if total > 256 << 20 {
                    return false;
                }
            }
        }
    }
}

/// Sends stamped messages at the configured rate, or flat out within a window.
async fn send_loop(
    proto: crate::proto::Proto,
    shared: Arc<Shared>,
    wr: Writer,
    mut state: watch::Receiver<State>,
    id: u32,
    target: Target,
    cfg: SendCfg,
) {
    if state.wait_for(|s| *s != State::Setup).await.map(|s| *s == State::Stop).unwrap_or(true) {
        shared.senders_done.fetch_add(1, Relaxed);
        return;
    }
    let me = &shared.senders[id as usize];
    let fan = me.fan.load(Relaxed);
    let n_senders = shared.senders.len() as f64;
    let interval = (cfg.rate > 0.0).then(|| Duration::from_secs_f64(n_senders / cfg.rate));
    // Spread the senders' ticks evenly over one interval.
    let mut next =
        tokio::time::Instant::now() + interval.map(|i| i.mul_f64(f64::from(id) / n_senders)).unwrap_or_default();
    let mut seq = 0u64;
    while cfg.count.is_none_or(|n| seq < n) && shared.sending.load(Relaxed) && *state.borrow() == State::Run {
        match interval {
            Some(i) => {
                tokio::time::sleep_until(next).await;
                next += i;
            }
            None => wait_window(&shared, id, seq, fan, cfg.window).await,
        }
        let stamp = Stamp { phase: shared.phase.load(Relaxed), sender: id, seq, nanos: now_nanos() };
        let text = encode(stamp, cfg.size);
        let line = match &target {
            Target::Room(r) => proto.chat_line(r, &text),
            Target::User(u) => proto.pm_line(u, &text),
        };
        if send_line(&wr, &line).await.is_err() {
            break;
        }
        seq += 1;
        shared.sent.fetch_add(1, Relaxed);
        shared.expected.fetch_add(fan, Relaxed);
    }
    shared.senders_done.fetch_add(1, Relaxed);
}

/// Flat out: waits while more than `window` of this sender's messages are still undelivered.
async fn wait_window(shared: &Shared, id: u32, seq: u64, fan: u64, window: u64) {
    let me = &shared.senders[id as usize];
    let mut waited = Duration::ZERO;
    while seq.saturating_sub(window) * fan > me.delivered.load(Relaxed) {
        let step = Duration::from_millis(100);
        if tokio::time::timeout(step, me.notify.notified()).await.is_err() {
            waited += step;
            if waited >= Duration::from_secs(2) {
                // Deliveries were lost (dropped client?): do not hang the run on them.
                shared.stalls.fetch_add(1, Relaxed);
                return;
            }
        }
    }
}
