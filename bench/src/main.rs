//! `dmbench`: load generator for DMconnect and IRC servers (same workloads, two protocols).

mod attack;
mod client;
mod conn;
mod flood;
mod load;
mod nats;
mod payload;
mod plan;
mod proto;
mod scenarios;
mod secure;
mod stats;
mod table;
mod wsraw;

use clap::{Args, Parser, Subcommand};
use load::{Opts, SendCfg};
use proto::Proto;
use scenarios::Outcome;
use serde_json::json;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Command line.
#[derive(Parser)]
#[command(name = "dmbench", about = "Load generator: DMconnect and IRC drivers, same workloads")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
    #[command(flatten)]
    global: Global,
}

/// Options every scenario takes.
#[derive(Args)]
struct Global {
    /// Protocol of the server under test.
    #[arg(long, global = true, value_enum, default_value = "dm")]
    proto: Proto,
    /// Server address (loopback).
    #[arg(long, global = true, default_value = "127.0.0.1:42439")]
    addr: SocketAddr,
    /// More nodes of the same host (cluster mode); clients are spread over all addresses by name.
    #[arg(long = "also-addr", global = true)]
    also_addr: Vec<SocketAddr>,
    /// Server PID, for CPU time and RSS from /proc.
    #[arg(long, global = true)]
    pid: Option<u32>,
    /// Name of the server in the records (e.g. dmconnect, ngircd).
    #[arg(long, global = true, default_value = "server")]
    label: String,
    /// Record key in the table, when one scenario runs with several parameter sets.
    #[arg(long, global = true, default_value = "")]
    tag: String,
    /// Append the JSON record to this file.
    #[arg(long, global = true)]
    json: Option<PathBuf>,
    /// Connections being set up at once.
    #[arg(long, global = true, default_value_t = 100)]
    setup_concurrency: usize,
    /// Prefix of account names and nicks.
    #[arg(long, global = true, default_value = "b")]
    prefix: String,
    /// Cluster runs: count the bus messages at this NATS server (`nats://127.0.0.1:4222`; fanout only).
    #[arg(long, global = true)]
    nats: Option<String>,
    /// Start sending as soon as the last client has joined, without waiting for the join
    /// notices to die down (the first second after a burst of joins).
    #[arg(long, global = true)]
    cold: bool,
    /// Worker threads of the generator's runtime; 0 = one per core.
    #[arg(long, global = true, default_value_t = 0)]
    threads: usize,
}

/// Sender settings shared by the chat scenarios.
#[derive(Args, Clone, Copy)]
struct Send {
    /// Total messages per second over all senders; 0 = flat out.
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// Flat out: per sender, messages not yet delivered to everyone.
    #[arg(long, default_value_t = 32)]
    window: u64,
    /// Message text size in bytes (the stamp is ~30 bytes; IRC lines stop at 512).
    #[arg(long, default_value_t = 64)]
    size: usize,
}

#[derive(Subcommand)]
enum Cmd {
    /// R rooms × N clients, S senders per room sending M messages each.
    Fanout {
        /// Rooms.
        #[arg(long, default_value_t = 1)]
        rooms: usize,
        /// Members per room.
        #[arg(long, default_value_t = 1000)]
        clients: usize,
        /// Senders per room (among the members).
        #[arg(long, default_value_t = 10)]
        senders: usize,
        /// Messages per sender.
        #[arg(long, default_value_t = 2000)]
        messages: u64,
        #[command(flatten)]
        send: Send,
    },
    /// N connections guess one account's password while real users log in (DMconnect only).
    LoginAttack {
        /// Attacking connections.
        #[arg(long, default_value_t = 60)]
        attackers: usize,
        /// Source addresses the attackers use (127.0.0.10, .11, …; real users use .2 and .3).
        #[arg(long, default_value_t = 1)]
        attack_ips: usize,
        /// Seconds the attack runs.
        #[arg(long, default_value_t = 10.0)]
        secs: f64,
        /// Milliseconds a real user waits between two logins.
        #[arg(long, default_value_t = 200)]
        pause_ms: u64,
    },
    /// Paced senders and readers in one room; then one member floods it flat out (--rate 0 means 8).
    Flood {
        /// Members that only read.
        #[arg(long, default_value_t = 50)]
        readers: usize,
        /// Paced senders (keep each under the server's chat_lines_per_sec).
        #[arg(long, default_value_t = 4)]
        paced: usize,
        /// Seconds of paced chat before the flood.
        #[arg(long, default_value_t = 3.0)]
        baseline_secs: f64,
        /// Seconds the flood lasts.
        #[arg(long, default_value_t = 10.0)]
        secs: f64,
        /// Bytes per flood line.
        #[arg(long, default_value_t = 64)]
        flood_size: usize,
        #[command(flatten)]
        send: Send,
    },
    /// C logged-in, joined, idle sessions; server RSS per session.
    Idle {
        /// Sessions.
        #[arg(long, default_value_t = 10_000)]
        sessions: usize,
        /// Members per room (join notices grow with the square of this).
        #[arg(long, default_value_t = 100)]
        room_size: usize,
        /// Seconds the sessions are held before RSS is read.
        #[arg(long, default_value_t = 2.0)]
        hold_secs: f64,
    },
    /// P pairs exchanging private messages, M per side.
    Pm {
        /// Pairs of clients.
        #[arg(long, default_value_t = 100)]
        pairs: usize,
        /// Messages per side.
        #[arg(long, default_value_t = 5000)]
        messages: u64,
        #[command(flatten)]
        send: Send,
    },
    /// Many logins at once while a rated fanout runs (--rate 0 means 500).
    LoginStorm {
        /// Members of the chat room.
        #[arg(long, default_value_t = 1000)]
        clients: usize,
        /// Senders among them.
        #[arg(long, default_value_t = 10)]
        senders: usize,
        /// Logins started at once.
        #[arg(long, default_value_t = 2000)]
        logins: usize,
        /// Seconds of chat before the storm.
        #[arg(long, default_value_t = 3.0)]
        baseline_secs: f64,
        /// Send the logins to another server (diagnostic: separates the server's own
        /// reaction from the load the storm puts on the machine).
        #[arg(long)]
        storm_addr: Option<SocketAddr>,
        #[command(flatten)]
        send: Send,
    },
    /// One member stops reading in a busy room; others' latency and server RSS (--rate 0 means 2000).
    SlowReader {
        /// Members besides the slow one.
        #[arg(long, default_value_t = 100)]
        clients: usize,
        /// Senders among them.
        #[arg(long, default_value_t = 10)]
        senders: usize,
        /// Seconds before the slow member stops reading.
        #[arg(long, default_value_t = 3.0)]
        baseline_secs: f64,
        /// Seconds the slow member does not read (use rate x size to push several MB at it).
        #[arg(long, default_value_t = 10.0)]
        slow_secs: f64,
        #[command(flatten)]
        send: Send,
    },
    /// Prints the comparison table from JSON record files.
    Table {
        /// The label every other server is compared with.
        #[arg(long, default_value = "dmconnect")]
        ours: String,
        /// JSON record files (one record per line).
        files: Vec<PathBuf>,
    },
}

/// Lifts the soft fd limit to the hard one: tens of thousands of sockets.
fn raise_fd_limit() -> u64 {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("dmbench: could not raise RLIMIT_NOFILE: {e}");
            rlimit::getrlimit(rlimit::Resource::NOFILE).map(|l| l.0).unwrap_or(0)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Cmd::Table { ours, files } = &cli.cmd {
        let mut text = String::new();
        for f in files {
            match std::fs::read_to_string(f) {
                Ok(t) => text += &t,
                Err(e) => {
                    eprintln!("dmbench: {}: {e}", f.display());
                    return ExitCode::FAILURE;
                }
            }
        }
        print!("{}", table::render(&text, ours));
        return ExitCode::SUCCESS;
    }
    let fds = raise_fd_limit();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if cli.global.threads > 0 {
        builder.worker_threads(cli.global.threads);
    }
    let rt = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("dmbench: runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(run(cli, fds))
}

async fn run(cli: Cli, fds: u64) -> ExitCode {
    let g = &cli.global;
    let mut opts = Opts {
        proto: g.proto,
        addr: g.addr,
        also: g.also_addr.clone(),
        server: stats::Server { pid: g.pid },
        setup_concurrency: g.setup_concurrency,
        prefix: g.prefix.clone(),
        buf_size: 16 * 1024,
        cold: g.cold,
    };
    let secs = Duration::from_secs_f64;
    let cfg = |s: Send, count: Option<u64>| SendCfg { rate: s.rate, count, window: s.window.max(1), size: s.size };
    let mut cmd = cli.cmd;
    // These two are measured against a steady chat rate, never flat out.
    match &mut cmd {
        Cmd::LoginStorm { send, .. } if send.rate <= 0.0 => send.rate = 500.0,
        Cmd::SlowReader { send, .. } if send.rate <= 0.0 => send.rate = 2000.0,
        Cmd::Flood { send, .. } if send.rate <= 0.0 => send.rate = 8.0,
        _ => {}
    }
    let (name, params, out): (&str, serde_json::Value, Result<Outcome, String>) = match cmd {
        Cmd::Fanout { rooms, clients, senders, messages, send } => (
            "fanout",
            json!({"rooms": rooms, "clients": clients, "senders": senders, "messages": messages,
                   "rate": send.rate, "window": send.window, "size": send.size, "nodes": 1 + g.also_addr.len()}),
            scenarios::fanout(&opts, rooms, clients, senders, cfg(send, Some(messages)), g.nats.as_deref()).await,
        ),
        Cmd::LoginAttack { attackers, attack_ips, secs: s, pause_ms } => (
            "login-attack",
            json!({"attackers": attackers, "attack_ips": attack_ips, "secs": s, "pause_ms": pause_ms}),
            attack::login_attack(
                &opts,
                attack::AttackCfg { attackers, attack_ips, secs: secs(s), pause: Duration::from_millis(pause_ms) },
            )
            .await,
        ),
        Cmd::Flood { readers, paced, baseline_secs, secs: s, flood_size, send } => (
            "flood",
            json!({"readers": readers, "paced": paced, "baseline_secs": baseline_secs, "secs": s,
                   "flood_size": flood_size, "rate": send.rate, "size": send.size}),
            flood::flood(
                &opts,
                flood::FloodCfg { readers, paced, baseline: secs(baseline_secs), secs: secs(s), flood_size },
                cfg(send, None),
            )
            .await,
        ),
        Cmd::Idle { sessions, room_size, hold_secs } => {
            opts.buf_size = 2048;
            (
                "idle",
                json!({"sessions": sessions, "room_size": room_size, "hold_secs": hold_secs, "fd_limit": fds}),
                scenarios::idle(&opts, sessions, room_size, secs(hold_secs)).await,
            )
        }
        Cmd::Pm { pairs, messages, send } => (
            "pm",
            json!({"pairs": pairs, "messages": messages, "rate": send.rate, "window": send.window, "size": send.size}),
            scenarios::pm(&opts, pairs, cfg(send, Some(messages))).await,
        ),
        Cmd::LoginStorm { clients, senders, logins, baseline_secs, storm_addr, send } => (
            "login-storm",
            json!({"clients": clients, "senders": senders, "logins": logins, "baseline_secs": baseline_secs,
                   "rate": send.rate, "size": send.size, "storm_addr": storm_addr}),
            scenarios::login_storm(&opts, clients, senders, cfg(send, None), secs(baseline_secs), logins, storm_addr)
                .await,
        ),
        Cmd::SlowReader { clients, senders, baseline_secs, slow_secs, send } => (
            "slow-reader",
            json!({"clients": clients, "senders": senders, "baseline_secs": baseline_secs, "slow_secs": slow_secs,
                   "rate": send.rate, "size": send.size}),
            scenarios::slow_reader(&opts, clients, senders, cfg(send, None), secs(baseline_secs), secs(slow_secs))
                .await,
        ),
        Cmd::Table { .. } => return ExitCode::SUCCESS,
    };
    let out = match out {
        Ok(o) => o,
        Err(e) => {
            eprintln!("dmbench {name} [{}]: {e}", g.label);
            return ExitCode::FAILURE;
        }
    };
    let tag = if g.tag.is_empty() { name.to_string() } else { g.tag.clone() };
    // A closed stdout (`| head`) must not turn into a panic.
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "{:<10} {:<12} {}", g.label, tag, out.line);
    let rec = json!({"label": g.label, "proto": g.proto, "scenario": name, "tag": g.tag,
                     "params": params, "results": out.results});
    let _ = writeln!(stdout, "{rec}");
    if let Some(path) = &g.json {
        let res =
            std::fs::OpenOptions::new().create(true).append(true).open(path).and_then(|mut f| writeln!(f, "{rec}"));
        if let Err(e) = res {
            eprintln!("dmbench: {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
