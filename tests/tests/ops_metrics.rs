//! The Prometheus endpoint, read with a real text-format parser while a scripted
//! session runs: the counters move with what the clients do.

use dmconnect_e2e::{Client, TestServer, GREETING};
use prometheus_parse::{Scrape, Value};
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn get(addr: SocketAddr, path: &str) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes()).await.unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).await.unwrap();
    text
}

async fn scrape(addr: SocketAddr) -> Scrape {
    let resp = get(addr, "/metrics").await;
    let (head, body) = resp.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    Scrape::parse(body.lines().map(|l| Ok(l.to_owned()))).unwrap()
}

/// The value of `name` whose labels include every pair in `labels` (0 when absent).
fn value(s: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    s.samples
        .iter()
        .filter(|x| x.metric == name && labels.iter().all(|(k, v)| x.labels.get(k) == Some(*v)))
        .map(|x| match x.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
            _ => 0.0,
        })
        .sum()
}

#[tokio::test]
async fn counters_move_as_a_session_runs() {
    let srv = TestServer::builder().capabilities(&["status"]).toml("[metrics]\nlisten = \"127.0.0.1:0\"").start().await;
    let m = srv.metrics_addr().expect("metrics address in the ready file");
    let before = scrape(m).await;
    assert_eq!(value(&before, "dmconnect_registrations_total", &[]), 0.0);
    assert!(before.samples.iter().any(|x| x.metric == "dmconnect_build_info"), "{:?}", before.samples);

    let mut alice = Client::login_new(srv.addr(), "alice", "pw").await;
    let mut bad = Client::connect(srv.addr()).await;
    bad.expect(GREETING).await;
    bad.send("/login alice wrong").await;
    bad.expect("Invalid username or password.").await;
    alice.join("general").await;
    alice.send("hello").await;
    alice.expect("alice: hello").await;
    alice.send("/status-check alice").await;
    alice.recv().await;

    let after = scrape(m).await;
    assert_eq!(value(&after, "dmconnect_registrations_total", &[]), 1.0);
    assert_eq!(value(&after, "dmconnect_logins_total", &[("result", "ok")]), 1.0);
    assert_eq!(value(&after, "dmconnect_logins_total", &[("result", "failed")]), 1.0);
    assert!(value(&after, "dmconnect_messages_in_total", &[]) >= 6.0);
    assert!(value(&after, "dmconnect_deliveries_out_total", &[]) >= 8.0);
    assert_eq!(value(&after, "dmconnect_connections", &[("transport", "plain")]), 2.0);
    assert_eq!(value(&after, "dmconnect_sessions", &[]), 1.0);
    assert_eq!(value(&after, "dmconnect_rooms", &[]), 1.0);
    assert_eq!(value(&after, "dmconnect_capability_calls_total", &[("capability", "status"), ("result", "ok")]), 1.0);

    drop(bad);
    drop(alice);
    for _ in 0..100 {
        let s = scrape(m).await;
        // The disconnect counter and the connection gauge move at two points of the
        // teardown, so wait until both have.
        if value(&s, "dmconnect_disconnects_total", &[("reason", "client")]) == 2.0
            && value(&s, "dmconnect_connections", &[("transport", "plain")]) == 0.0
        {
            assert!(get(m, "/other").await.starts_with("HTTP/1.1 404"));
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("disconnects were not counted, or connections not released");
}

/// A metric's name, the labels it must have, and the value wanted.
type Want<'a> = (&'a str, &'a [(&'a str, &'a str)], f64);

/// Polls until every `(metric, labels, value)` holds (counters and gauges move at
/// different points of a session's teardown).
async fn wait_for(m: SocketAddr, want: &[Want<'_>]) {
    let mut s = scrape(m).await;
    for _ in 0..150 {
        if want.iter().all(|(name, labels, v)| value(&s, name, labels) == *v) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        s = scrape(m).await;
    }
    let seen: Vec<f64> = want.iter().map(|(name, labels, _)| value(&s, name, labels)).collect();
    panic!("wanted {want:?}, saw {seen:?}");
}

#[tokio::test]
async fn websocket_sessions_bans_and_refusals_are_counted() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let srv = TestServer::builder()
        .server_key("admins", "[\"root\"]")
        .toml("[metrics]\nlisten = \"127.0.0.1:0\"\n[limits]\nmax_connections_per_ip = 2")
        .start()
        .await;
    let m = srv.metrics_addr().unwrap();
    drop(Client::login_new(srv.addr(), "bob", "pw").await);
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/ws", srv.addr())).await.unwrap();
    ws.send(Message::text("/login bob pw")).await.unwrap();
    loop {
        let frame = ws.next().await.unwrap().unwrap();
        if frame.to_text().unwrap_or("").contains("Login successful.") {
            break;
        }
    }
    let ws_open: &[(&str, &str)] = &[("transport", "websocket")];
    wait_for(m, &[("dmconnect_connections", ws_open, 1.0), ("dmconnect_sessions", ws_open, 1.0)]).await;

    let mut root = Client::login_new(srv.addr(), "root", "pw").await;
    root.send("/ban bob").await;
    root.expect("User 'bob' has been banned.").await;
    wait_for(
        m,
        &[
            ("dmconnect_disconnects_total", &[("reason", "ban")], 1.0),
            ("dmconnect_connections", ws_open, 0.0),
            ("dmconnect_sessions", ws_open, 0.0),
            ("dmconnect_sessions", &[("transport", "plain")], 1.0),
        ],
    )
    .await;

    // Two connections fill an address's budget: the third is refused at accept.
    let ip = "127.0.0.9";
    let _held = [Client::connect_from(srv.addr(), ip).await, Client::connect_from(srv.addr(), ip).await];
    let mut third = Client::connect_from(srv.addr(), ip).await;
    third.expect("Too many connections from your address.").await;
    wait_for(m, &[("dmconnect_disconnects_total", &[("reason", "limits")], 1.0)]).await;
}
