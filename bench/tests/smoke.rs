//! Every scenario, at toy size, against the real server: the numbers must add up.

use dmconnect_e2e::TestServer;
use serde_json::Value;
use std::process::Command;

/// Runs `dmbench` against `srv` and returns its JSON record.
fn bench(srv: &TestServer, args: &[&str]) -> Value {
    bench_proto(srv, "dm", args)
}

/// Runs `dmbench --proto PROTO` against `srv` and returns its JSON record.
fn bench_proto(srv: &TestServer, proto: &str, args: &[&str]) -> Value {
    bench_at(srv, srv.addr(), proto, args)
}

/// Runs `dmbench --proto PROTO --addr ADDR` (one of `srv`'s ports) and returns its JSON record.
fn bench_at(srv: &TestServer, addr: std::net::SocketAddr, proto: &str, args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_dmbench"))
        .args(["--proto", proto, "--addr", &addr.to_string(), "--pid", &srv.pid().to_string()])
        .args(["--label", "smoke", "--prefix", args[0]])
        .args(args)
        .output()
        .expect("run dmbench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "dmbench {args:?} failed: {}{stdout}", String::from_utf8_lossy(&out.stderr));
    let mut lines = stdout.lines();
    let summary = lines.next().unwrap_or_default();
    assert!(summary.starts_with("smoke"), "summary line: {summary:?}");
    serde_json::from_str(lines.next().unwrap_or_default()).expect("JSON record on the second line")
}

const NO_LIMITS: &str = "[limits]\nmax_connections_per_ip = 0\nidle_timeout_secs = 0\nchat_lines_per_sec = 0\n\
         registrations_per_ip_per_hour = 0\nmax_rooms = 0\nmax_rooms_per_account = 0";

async fn server() -> TestServer {
    TestServer::builder().toml(NO_LIMITS).start().await
}

#[tokio::test]
async fn every_scenario_counts_what_it_sent() {
    let srv = server().await;

    let r =
        &bench(&srv, &["fanout", "--rooms", "2", "--clients", "15", "--senders", "3", "--messages", "20"])["results"];
    assert_eq!(r["ready"], 30);
    // 2 rooms x 3 senders x 20 messages, each to the 14 other members.
    assert_eq!(r["delivered"], 2 * 3 * 20 * 14);
    assert_eq!(r["lost"], 0);
    assert!(r["latency"]["p99_ms"].as_f64().unwrap_or(0.0) > 0.0, "{r}");
    assert!(r["server_cpu_s"].as_f64().is_some() && r["server_rss_kib"].as_u64().unwrap_or(0) > 0, "{r}");

    let r =
        &bench(&srv, &["fanout", "--clients", "10", "--senders", "2", "--messages", "10", "--rate", "200"])["results"];
    assert_eq!(r["delivered"], 2 * 10 * 9);

    let r = &bench(&srv, &["pm", "--pairs", "5", "--messages", "20"])["results"];
    assert_eq!(r["ready"], 10);
    assert_eq!(r["delivered"], 5 * 2 * 20);

    let r = &bench(&srv, &["idle", "--sessions", "50", "--room-size", "10", "--hold-secs", "0.2"])["results"];
    assert_eq!(r["ready"], 50);
    assert!(r["rss_kib"].as_u64().unwrap_or(0) > 0, "{r}");

    let r = &bench(
        &srv,
        &[
            "login-storm",
            "--clients",
            "10",
            "--senders",
            "2",
            "--rate",
            "100",
            "--logins",
            "30",
            "--baseline-secs",
            "0.5",
        ],
    )["results"];
    assert_eq!(r["logins_ok"], 30);
    assert!(r["baseline"]["count"].as_u64().unwrap_or(0) > 0, "{r}");

    let r = &bench(
        &srv,
        &[
            "slow-reader",
            "--clients",
            "5",
            "--senders",
            "2",
            "--rate",
            "200",
            "--baseline-secs",
            "0.5",
            "--slow-secs",
            "0.5",
        ],
    )["results"];
    assert_eq!(r["ready"], 6);
    assert!(r["slow"]["count"].as_u64().unwrap_or(0) > 0, "{r}");
    assert!(!r["rss_samples"].as_array().is_none_or(Vec::is_empty), "{r}");
}

#[test]
fn table_divides_ours_by_the_peer() {
    let dir = std::env::temp_dir().join(format!("dmbench-table-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("r.jsonl");
    std::fs::write(
        &file,
        concat!(
            r#"{"label":"dmconnect","scenario":"idle","tag":"idle","results":{"ready":100,"rss_kib":400,"rss_per_session_kib":2.0}}"#,
            "\n",
            r#"{"label":"ngircd","scenario":"idle","tag":"idle","results":{"ready":100,"rss_kib":800,"rss_per_session_kib":4.0}}"#,
            "\n"
        ),
    )
    .expect("write records");
    let out = Command::new(env!("CARGO_BIN_EXE_dmbench")).arg("table").arg(&file).output().expect("run dmbench table");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("| idle | RSS per session KiB ↓ | 2.000 | 4.000 | 0.50× |"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn websocket_sessions_count_the_same() {
    let srv = server().await;
    let args = ["fanout", "--rooms", "2", "--clients", "12", "--senders", "3", "--messages", "20"];
    let r = &bench_proto(&srv, "ws", &args)["results"];
    assert_eq!(r["ready"], 24);
    assert_eq!(r["delivered"], 2 * 3 * 20 * 11);
    assert_eq!(r["lost"], 0);
    let r = &bench_proto(&srv, "ws", &["pm", "--pairs", "3", "--messages", "10"])["results"];
    assert_eq!(r["delivered"], 3 * 2 * 10);
}

/// Flat and paced fan-out, then private messages, through one of the encrypted ports.
fn encrypted_sessions_count_the_same(srv: &TestServer, addr: std::net::SocketAddr, proto: &str) {
    let args = ["fanout", "--rooms", "2", "--clients", "10", "--senders", "2", "--messages", "15"];
    let r = &bench_at(srv, addr, proto, &args)["results"];
    assert_eq!(r["ready"], 20, "{r}");
    assert_eq!(r["delivered"], 2 * 2 * 15 * 9, "{r}");
    assert_eq!(r["lost"], 0, "{r}");
    let args = ["fanout", "--clients", "8", "--senders", "2", "--messages", "10", "--rate", "200"];
    let r = &bench_at(srv, addr, proto, &args)["results"];
    assert_eq!(r["delivered"], 2 * 10 * 7, "{r}");
    let r = &bench_at(srv, addr, proto, &["pm", "--pairs", "3", "--messages", "10"])["results"];
    assert_eq!(r["delivered"], 3 * 2 * 10, "{r}");
}

#[tokio::test]
async fn tls_sessions_count_the_same() {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("certificate");
    let dir = std::env::temp_dir().join(format!("dmbench-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, made.cert.pem()).expect("write cert");
    std::fs::write(&key, made.key_pair.serialize_pem()).expect("write key");
    let srv = TestServer::builder().toml(NO_LIMITS).tls(&cert, &key).start().await;
    let addr = srv.tls_addr().expect("TLS port");
    encrypted_sessions_count_the_same(&srv, addr, "tls");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn legacy_encrypted_sessions_count_the_same() {
    let srv = TestServer::builder().toml(NO_LIMITS).encrypted(true).start().await;
    let addr = srv.encrypted_addr().expect("encrypted port");
    encrypted_sessions_count_the_same(&srv, addr, "legacy");
}

#[tokio::test]
async fn login_attack_reports_the_real_users_latency() {
    // Default [limits]: login failure budgets and fair hashing on.
    let srv = TestServer::builder().start().await;
    let r = &bench(&srv, &["login-attack", "--attackers", "4", "--secs", "1.5", "--pause-ms", "50"])["results"];
    assert!(r["attempts_answered"].as_u64().unwrap_or(0) > 0, "{r}");
    assert!(r["owner"]["logins_ok"].as_u64().unwrap_or(0) > 0, "{r}");
    assert!(r["second_account"]["logins_ok"].as_u64().unwrap_or(0) > 0, "{r}");
    assert_eq!(r["owner"]["errors"], 0, "{r}");
    assert!(r["owner"]["latency"]["p99_ms"].as_f64().unwrap_or(0.0) > 0.0, "{r}");
}

#[tokio::test]
async fn flood_is_held_back_by_default_limits() {
    let srv = TestServer::builder().start().await;
    let args = ["flood", "--readers", "5", "--paced", "2", "--rate", "4", "--baseline-secs", "0.5", "--secs", "1.5"];
    let r = &bench(&srv, &args)["results"];
    assert_eq!(r["ready"], 7, "{r}");
    assert_eq!(r["paced_lost"], 0, "{r}");
    assert_eq!(r["members_closed"], 0, "{r}");
    assert!(r["flooder_told_too_fast"].as_u64().unwrap_or(0) >= 1, "{r}");
    // chat_burst 20 plus 5 lines/s for ~2 s, with slack: far below what was sent.
    let per_reader = r["flood_lines_per_reader"].as_f64().unwrap_or(f64::MAX);
    assert!(per_reader <= 45.0, "{r}");
    assert!(r["flood_sent"].as_u64().unwrap_or(0) as f64 > per_reader, "{r}");
    assert!(r["flood"]["count"].as_u64().unwrap_or(0) > 0, "{r}");

    // Limits off: the flood reaches the readers.
    let srv = server().await;
    let r = &bench(&srv, &args)["results"];
    assert!(r["flood_lines_per_reader"].as_f64().unwrap_or(0.0) > 45.0, "{r}");
    assert!(r["paced_delivered"].as_u64().unwrap_or(0) > 0, "{r}");
}
