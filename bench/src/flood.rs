//! flood: paced senders chat in a room whose members all read; after a baseline one
//! more member floods the room flat out (no window, as fast as its socket takes lines).
//! Reports the paced lines' latency before and during the flood, how many flood lines
//! reached the readers, and who the server disconnected.

use crate::conn::{send_line, Conn};
use crate::load::{Load, Opts, SendCfg};
use crate::payload::{encode, now_nanos, Stamp};
use crate::proto::Proto;
use crate::scenarios::{room_plans, round, Outcome};
use crate::stats::Latency;
use serde_json::json;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Reply texts (docs/protocol.md) the flooder may be told.
const TOO_FAST: &str = "You are sending messages too fast.";
const FLOOD_KICK: &str = "Disconnected: you kept sending messages too fast.";

/// Phase stamped into the flooder's lines (paced lines use 0 = baseline, 1 = during the flood).
const FLOOD_PHASE: u8 = 2;
/// Sender index of the flooder: outside the paced senders' range, so no window waits on it.
const FLOOD_SENDER: u32 = u32::MAX;
/// Lines per write on TCP (WebSocket sends one frame per line).
const BATCH: usize = 32;

/// Flood settings.
#[derive(Clone, Copy, Debug)]
pub struct FloodCfg {
    /// Members that only read.
    pub readers: usize,
    /// Paced senders (members too).
    pub paced: usize,
    /// Seconds of paced chat before the flood.
    pub baseline: Duration,
    /// Seconds the flood lasts.
    pub secs: Duration,
    /// Bytes per flood line.
    pub flood_size: usize,
}

/// What the flooder saw.
#[derive(Default)]
struct Flooder {
    sent: AtomicU64,
    told_too_fast: AtomicU64,
    kicked: AtomicBool,
    closed: AtomicBool,
}

/// Reads the flooder's socket (echoes, notices) so it is never dropped as a slow reader.
async fn flooder_reader(mut c: Conn, f: Arc<Flooder>) {
    loop {
        match c.fill().await {
            Ok(0) | Err(_) => {
                f.closed.store(true, Relaxed);
                return;
            }
            Ok(_) => {}
        }
        while let Some(l) = c.next_line() {
            if l == TOO_FAST.as_bytes() {
                f.told_too_fast.fetch_add(1, Relaxed);
            } else if l == FLOOD_KICK.as_bytes() {
                f.kicked.store(true, Relaxed);
            }
        }
    }
}

/// Writes stamped lines as fast as the socket takes them until `stop`.
async fn flooder_writer(proto: Proto, wr: crate::conn::Writer, size: usize, stop: Arc<AtomicBool>, f: Arc<Flooder>) {
    let batch = if proto.websocket() { 1 } else { BATCH };
    let mut seq = 0u64;
    while !stop.load(Relaxed) {
        let lines: Vec<String> = (0..batch)
            .map(|i| {
                let st = Stamp { phase: FLOOD_PHASE, sender: FLOOD_SENDER, seq: seq + i as u64, nanos: now_nanos() };
                proto.chat_line("r0", &encode(st, size))
            })
            .collect();
        if send_line(&wr, &lines.join("\r\n")).await.is_err() {
            return;
        }
        seq += batch as u64;
        f.sent.store(seq, Relaxed);
    }
}

/// Waits until every paced line sent has reached every member, or nothing moved for
/// `stall` ([`Load::drain`] cannot tell: the flood's deliveries count there too).
async fn drain_paced(load: &Load, stall: Duration) {
    let s = &load.shared;
    let paced = || s.phase_delivered[0].load(Relaxed) + s.phase_delivered[1].load(Relaxed);
    let (mut last, mut since) = (paced(), Instant::now());
    while since.elapsed() < stall {
        let (now, done) = (paced(), s.senders_done.load(Relaxed) >= s.senders.len());
        if done && now >= s.expected.load(Relaxed) {
            return;
        }
        if now != last {
            (last, since) = (now, Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// flood: see the module doc. `send` paces the paced senders (rate over all of them).
pub async fn flood(opts: &Opts, cfg: FloodCfg, send: SendCfg) -> Result<Outcome, String> {
    let members = cfg.readers + cfg.paced;
    let load = Load::start(opts, room_plans(opts, 1, members, cfg.paced), send).await?;
    let name = format!("{}flooder", opts.prefix);
    let mut fc = Conn::connect(opts.addr_for(&name), 16 * 1024, None, opts.proto.transport())
        .await
        .map_err(|e| format!("flooder: {e}"))?;
    let step = async {
        opts.proto.register(&mut fc, &name).await?;
        opts.proto.login(&mut fc, &name).await?;
        opts.proto.join(&mut fc, "r0").await
    };
    step.await.map_err(|e| format!("flooder setup: {e}"))?;
    let f = Arc::new(Flooder::default());
    let stop = Arc::new(AtomicBool::new(false));
    let wr = fc.wr.clone();
    let reader = tokio::spawn(flooder_reader(fc, f.clone()));
    let cpu0 = opts.server.cpu();
    load.go();
    tokio::time::sleep(cfg.baseline).await;
    load.set_phase(1);
    let t_flood = Instant::now();
    let writer = tokio::spawn(flooder_writer(opts.proto, wr, cfg.flood_size, stop.clone(), f.clone()));
    tokio::time::sleep(cfg.secs).await;
    stop.store(true, Relaxed);
    load.stop_sending();
    // The flooder may be blocked in a write the server does not read (flood control).
    writer.abort();
    let flood_secs = t_flood.elapsed().as_secs_f64();
    drain_paced(&load, Duration::from_secs(2)).await;
    let cpu = opts.server.cpu() - cpu0;
    let rss = opts.server.rss();
    let (ready, errors, closed) = (load.ready(), load.errors(), load.shared.closed.load(Relaxed));
    let expected = load.shared.expected.load(Relaxed);
    let t = load.finish().await;
    reader.abort();
    let (l0, l1) = (Latency::of(&t.hist[0]), Latency::of(&t.hist[1]));
    let paced = t.delivered[0] + t.delivered[1];
    let flood_sent = f.sent.load(Relaxed);
    let flood_delivered = t.delivered[2];
    // Every member but the flooder reads the flood.
    let per_reader = flood_delivered as f64 / (ready.max(1) as f64);
    let r = json!({
        "ready": ready, "errors": errors, "baseline": l0, "flood": l1,
        "paced_expected": expected, "paced_delivered": paced, "paced_lost": expected.saturating_sub(paced),
        "flood_sent": flood_sent, "flood_delivered": flood_delivered,
        "flood_lines_per_reader": round(per_reader), "flood_lines_per_s_per_reader": round(per_reader / flood_secs),
        "flood_latency": Latency::of(&t.hist[2]),
        "flooder_told_too_fast": f.told_too_fast.load(Relaxed), "flooder_kicked": f.kicked.load(Relaxed),
        "flooder_closed": f.closed.load(Relaxed), "members_closed": closed,
        "server_cpu_s": round(cpu), "server_rss_kib": rss,
    });
    let line = format!(
        "baseline {} | flood {} | paced lost={} | flood sent={flood_sent} got/reader={per_reader:.0} \
         | members_closed={closed} flooder_closed={} | server_cpu={cpu:.2}s",
        l0.short(),
        l1.short(),
        expected.saturating_sub(paced),
        f.closed.load(Relaxed),
    );
    Ok(Outcome { results: r, line })
}
