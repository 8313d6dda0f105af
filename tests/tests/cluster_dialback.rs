//! Dialback in a cluster: the records of sent federation messages live in the
//! cluster's shared store (NATS JetStream key-value), so a check about a
//! message is answered by any node, even after the node that sent it died,
//! and still only for that message, to that host, as often as `vouch_max`.
//! Without JetStream the records stay on their node and the others ask it.
//! Skipped unless `DMC_PG_URL` and `DMC_NATS_URL` are set (see tests/tests/cluster.rs).

mod federation_support;

use dmconnect_e2e::cluster::{builder, services, settle};
use dmconnect_e2e::Client;
use federation_support::{fed_toml, free_port, s2s_from, FakePeer};
use serde_json::{json, Value};

#[tokio::test]
async fn a_dead_nodes_message_is_vouched_for_by_the_survivor_once() {
    let Some(svc) = services("dialback").await else { return };
    let port = free_port(&["127.0.0.1", "127.0.0.2", "127.0.0.9"]);
    let node =
        |n: u8| builder(n, &svc).listen_port(port).server_key("sniff_ms", "50").toml(&fed_toml(port, "vouch_max = 1"));
    let (mut a, b) = (node(0).start().await, node(1).start().await);
    for n in [&a, &b] {
        n.wait_for_log("sent-message records in JetStream key-value").await;
    }
    let peer = FakePeer::start("127.0.0.9", port).await;

    let mut alice = Client::login_new(a.addr(), "alice", "pw").await;
    alice.send("/pm eve@127.0.0.9 hello eve").await;
    alice.expect("Private message sent to eve@127.0.0.9.").await;
    let sent = peer.wait_for("remote_pm", |m| m["type"] == "remote_pm").await;
    let id = sent["msg_id"].as_str().expect("msg_id").to_owned();
    drop(alice);
    a.kill().await;

    let check = |fields: Value| {
        let mut c = json!({"type":"dialback_check","msg_id":id,"msg_type":"remote_pm","from_host":"127.0.0.9",
            "sender":"alice","recipient":"eve","message":"hello eve"});
        for (k, v) in fields.as_object().expect("object") {
            c[k] = v.clone();
        }
        c.to_string()
    };
    let result = |v: Value| v["result"].as_str().unwrap_or("").to_owned();
    // Refusals do not use the record up.
    for (src, body, why) in [
        ("127.0.0.9", check(json!({"from_host":"127.0.0.3"})), "sent to another host"),
        ("127.0.0.1", check(json!({})), "asked from the wrong address"),
        ("127.0.0.9", check(json!({"message":"other text"})), "other text"),
        ("127.0.0.9", check(json!({"msg_type":"room_join"})), "other type"),
    ] {
        assert_eq!(result(s2s_from(src, b.addr(), &body).await), "fail", "{why}");
    }
    // The right check, through node B, with node A dead: ok once (vouch_max = 1), then a replay fails.
    assert_eq!(result(s2s_from("127.0.0.9", b.addr(), &check(json!({}))).await), "ok");
    assert_eq!(result(s2s_from("127.0.0.9", b.addr(), &check(json!({}))).await), "fail", "replayed");
}

/// A NATS server without JetStream, of this test's own.
struct PlainNats(std::process::Child);

impl Drop for PlainNats {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn without_jetstream_the_node_that_sent_it_is_asked_over_nats() {
    let Some(svc) = services("dialbackplain").await else { return };
    let nats_port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let child = std::process::Command::new("nats-server")
        .args(["-a", "127.0.0.1", "-p", &nats_port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("nats-server on PATH");
    let _nats = PlainNats(child);
    for _ in 0..50 {
        if std::net::TcpStream::connect(("127.0.0.1", nats_port)).is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let svc = dmconnect_e2e::cluster::Services { nats: format!("nats://127.0.0.1:{nats_port}"), ..svc };
    let port = free_port(&["127.0.0.1", "127.0.0.2", "127.0.0.9"]);
    let node =
        |n: u8| builder(n, &svc).listen_port(port).server_key("sniff_ms", "50").toml(&fed_toml(port, "vouch_max = 1"));
    let (a, b) = (node(0).start().await, node(1).start().await);
    for n in [&a, &b] {
        n.wait_for_log("dialback checks about another node's message are forwarded to it").await;
    }
    settle().await; // each node has heard the other
    let peer = FakePeer::start("127.0.0.9", port).await;
    let mut alice = Client::login_new(a.addr(), "alice", "pw").await;
    alice.send("/pm eve@127.0.0.9 hello eve").await;
    alice.expect("Private message sent to eve@127.0.0.9.").await;
    let sent = peer.wait_for("remote_pm", |m| m["type"] == "remote_pm").await;
    let check = json!({"type":"dialback_check","msg_id":sent["msg_id"],"msg_type":"remote_pm","from_host":"127.0.0.9",
        "sender":"alice","recipient":"eve","message":"hello eve"})
    .to_string();
    // Through node B, which asks node A; once only.
    assert_eq!(s2s_from("127.0.0.9", b.addr(), &check).await["result"], "ok");
    assert_eq!(s2s_from("127.0.0.9", b.addr(), &check).await["result"], "fail", "replayed");
}
