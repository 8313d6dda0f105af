//! Federation trust (dialback, docs/protocol.md §9): the attacks a malicious peer would try,
//! each of which must now fail for the attacker. Real servers on 127.0.0.x, a
//! scripted fake peer, and a counting listener standing in for a victim.

mod federation_support;

use federation_support::{free_port, hosts, s2s, s2s_from, FakePeer, Host};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn dialback_failed() -> Value {
    json!({"status":"error","reason":"Dialback failed"})
}

/// A listener that counts connections and bytes received, and answers every check `fail`.
struct Counter {
    conns: Arc<AtomicUsize>,
    bytes: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Counter {
    async fn start(ip: &str, port: u16) -> Counter {
        let l = tokio::net::TcpListener::bind(format!("{ip}:{port}")).await.expect("bind counter");
        let (conns, bytes) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (c, b) = (conns.clone(), bytes.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                c.fetch_add(1, Ordering::SeqCst);
                let b = b.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    let mut line = Vec::new();
                    while !line.contains(&b'\n') && line.len() < 1 << 20 {
                        match s.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => {
                                b.fetch_add(n, Ordering::SeqCst);
                                line.extend_from_slice(&buf[..n]);
                            }
                        }
                    }
                    let _ = s.write_all(b"{\"type\":\"dialback_result\",\"result\":\"fail\"}\n").await;
                });
            }
        });
        Counter { conns, bytes, task }
    }

    fn conns(&self) -> usize {
        self.conns.load(Ordering::SeqCst)
    }
}

impl Drop for Counter {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn forged_pm(from_host: &str, msg_id: &str, message: &str) -> String {
    json!({"type":"remote_pm","from_host":from_host,"msg_id":msg_id,"sender":"admin","recipient":"alice","message":message})
        .to_string()
}

#[tokio::test]
async fn captured_msg_id_replayed_to_a_third_host_is_refused() {
    let hs = hosts(2, &[], "").await;
    let (v, r) = (&hs[0], &hs[1]);
    let x = FakePeer::start("127.0.0.9", v.addr.port()).await;
    let mut mallory = v.user("mallory").await;
    let mut alice = r.user("alice").await;

    // Mallory makes V send a message to the host she runs, and captures its id.
    mallory.send("/pm eve@127.0.0.9 hi eve").await;
    mallory.expect("Private message sent to eve@127.0.0.9.").await;
    let captured = x.wait_for("remote_pm", |m| m["type"] == "remote_pm").await;
    let id = captured["msg_id"].as_str().unwrap();

    // From her host she replays it to R with other content: V does not vouch (sent to X, not R).
    let forged = forged_pm(&v.name, id, "[forged] please send me your password");
    assert_eq!(s2s_from(&x.name, r.addr, &forged).await, dialback_failed());
    // Even the exact same content, re-addressed to R, is refused.
    let same = json!({"type":"remote_pm","from_host":v.name,"msg_id":id,"sender":"mallory","recipient":"alice","message":"hi eve"});
    assert_eq!(s2s_from(&x.name, r.addr, &same.to_string()).await, dialback_failed());

    mallory.send(&format!("/pm {} marker", r.at("alice"))).await;
    mallory.expect(&format!("Private message sent to {}.", r.at("alice"))).await;
    alice.expect(&format!("(Private) {}: marker", v.at("mallory"))).await;
    assert!(r.logs().contains("dialback refused"), "{}", r.logs());
}

#[tokio::test]
async fn made_up_ids_after_a_verified_message_are_refused() {
    // No negative cache here: this shows that no (host, address) pair is trusted.
    let hs = hosts(2, &[], "dialback_fail_secs = 0").await;
    let (v, r) = (&hs[0], &hs[1]);
    let mut mallory = v.user("mallory").await;
    let mut alice = r.user("alice").await;
    mallory.send(&format!("/pm {} real", r.at("alice"))).await;
    mallory.expect(&format!("Private message sent to {}.", r.at("alice"))).await;
    alice.expect(&format!("(Private) {}: real", v.at("mallory"))).await;

    // Right after a verified message, from another machine and even from V's own address.
    for src in ["127.0.0.9", v.name.as_str()] {
        for (n, body) in [
            json!({"type":"remote_pm","sender":"admin","recipient":"alice","message":"[forged] hi"}),
            json!({"type":"room_join","room":"general","sender":"admin"}),
            json!({"type":"room_message","room":"general","sender":"admin","payload":{"text":"[forged] maintenance"}}),
        ]
        .into_iter()
        .enumerate()
        {
            let mut body = body;
            body["from_host"] = v.name.clone().into();
            body["msg_id"] = format!("{n:064x}").into();
            assert_eq!(s2s_from(src, r.addr, &body.to_string()).await, dialback_failed(), "{body} from {src}");
        }
    }
    mallory.send(&format!("/pm {} marker", r.at("alice"))).await;
    mallory.expect(&format!("Private message sent to {}.", r.at("alice"))).await;
    alice.expect(&format!("(Private) {}: marker", v.at("mallory"))).await;
}

/// One host on 127.0.0.2 and a counting victim on 127.0.0.20 (also named `v0.test` … `v29.test`).
async fn host_and_victim(extra: &str) -> (Host, Counter) {
    let port = free_port(&["127.0.0.2", "127.0.0.20"]);
    let names: Vec<String> = (0..30).map(|i| format!("\"v{i}.test\" = \"127.0.0.20:{port}\"")).collect();
    let extra = format!("{extra}\npeers = {{ {} }}", names.join(", "));
    let victim = Counter::start("127.0.0.20", port).await;
    (Host::start("127.0.0.2", port, &[], &extra).await, victim)
}

#[tokio::test]
async fn check_back_flood_is_bounded_by_rate_limits() {
    let limits = "dialback_rate_per_ip = 2\ndialback_rate_per_host = 2\ndialback_burst = 4\ndialback_fail_secs = 0";
    let (r, victim) = host_and_victim(limits).await;

    // 16 source addresses, 10 forged requests each, all claiming the victim: the per-host bucket holds.
    let t = Instant::now();
    for i in 0..160 {
        let src = format!("127.0.0.{}", 30 + i % 16);
        assert_eq!(s2s_from(&src, r.addr, &forged_pm("127.0.0.20", &format!("{i:x}"), "x")).await, dialback_failed());
    }
    let bound = 4 + 2 * (t.elapsed().as_secs() as usize + 1);
    assert!(victim.conns() <= bound, "{} check-backs (bound {bound})", victim.conns());

    // One source address claiming 30 names of the victim: the per-address bucket holds.
    let before = victim.conns();
    let t = Instant::now();
    for i in 0..150 {
        let body = forged_pm(&format!("v{}.test", i % 30), &format!("{i:x}"), "x");
        assert_eq!(s2s_from("127.0.0.50", r.addr, &body).await, dialback_failed());
    }
    let bound = 4 + 2 * (t.elapsed().as_secs() as usize + 1);
    assert!(victim.conns() - before <= bound, "{} check-backs (bound {bound})", victim.conns() - before);
}

#[tokio::test]
async fn failed_dialbacks_are_remembered() {
    let (r, victim) = host_and_victim("dialback_fail_secs = 60").await;
    for i in 0..160 {
        let src = format!("127.0.0.{}", 30 + i % 16);
        assert_eq!(s2s_from(&src, r.addr, &forged_pm("127.0.0.20", &format!("{i:x}"), "x")).await, dialback_failed());
    }
    // One check-back per source address; the other 144 were refused at once.
    assert_eq!(victim.conns(), 16);
}

#[tokio::test]
async fn oversized_requests_cause_no_big_check_back() {
    let (r, victim) = host_and_victim("").await;
    let long = "y".repeat(40 * 1024);
    let bad = s2s(r.addr, &forged_pm("127.0.0.20", "1", &long)).await;
    assert_eq!(bad["reason"], "invalid request: a text field is longer than 32 KiB");
    assert_eq!(victim.conns(), 0, "refused before any dialback");

    // Under the limit, the check-back echoes a bounded part and a digest.
    let long = "z".repeat(30 * 1024);
    assert_eq!(s2s(r.addr, &forged_pm("127.0.0.20", "2", &long)).await, dialback_failed());
    assert_eq!(victim.conns(), 1);
    let got = victim.bytes.load(Ordering::SeqCst);
    assert!(got < 5 * 1024, "check-back of {got} bytes");
}

#[tokio::test]
async fn dialback_answers_bind_host_address_and_fields() {
    let hs = hosts(1, &[], "vouch_max = 3").await;
    let a = &hs[0];
    let x = FakePeer::start("127.0.0.9", a.addr.port()).await;
    let mut alice = a.user("alice").await;
    alice.send("/pm eve@127.0.0.9 hello eve").await;
    alice.expect("Private message sent to eve@127.0.0.9.").await;
    let sent = x.wait_for("remote_pm", |m| m["type"] == "remote_pm").await;
    let id = sent["msg_id"].as_str().unwrap();
    let check = |fields: Value| {
        let mut c = json!({"type":"dialback_check","msg_id":id,"msg_type":"remote_pm","from_host":"127.0.0.9",
            "sender":"alice","recipient":"eve","message":"hello eve"});
        for (k, v) in fields.as_object().unwrap() {
            c[k] = v.clone();
        }
        c.to_string()
    };
    let result = |v: Value| v["result"].as_str().unwrap_or("").to_owned();

    for (src, body, why) in [
        ("127.0.0.9", check(json!({"from_host":"127.0.0.3"})), "sent to another host"),
        ("127.0.0.1", check(json!({})), "asked from the wrong address"),
        ("127.0.0.9", check(json!({"message":"other text"})), "other text"),
        ("127.0.0.9", check(json!({"room":"general"})), "a field we did not send"),
        ("127.0.0.9", check(json!({"msg_type":"room_join"})), "other type"),
        ("127.0.0.9", check(json!({"msg_id":"0123456789abcdef"})), "unknown id"),
    ] {
        assert_eq!(result(s2s_from(src, a.addr, &body).await), "fail", "{why}");
    }
    // Right host, right address, right fields; also as the reference asks (fewer fields).
    assert_eq!(result(s2s_from("127.0.0.9", a.addr, &check(json!({}))).await), "ok");
    let reference = json!({"type":"dialback_check","msg_id":id,"msg_type":"remote_pm","from_host":"127.0.0.9"});
    assert_eq!(result(s2s_from("127.0.0.9", a.addr, &reference.to_string()).await), "ok");
    assert_eq!(result(s2s_from("127.0.0.9", a.addr, &check(json!({}))).await), "ok");
    // Vouched for three times already: no more.
    assert_eq!(result(s2s_from("127.0.0.9", a.addr, &check(json!({}))).await), "fail");
}

#[tokio::test]
async fn status_request_only_for_plausible_peers_and_existing_accounts() {
    let hs = hosts(1, &[], "").await;
    let a = &hs[0];
    drop(a.user("bob").await);
    let _alice = a.user("alice").await;
    let ask =
        |from: &str| json!({"type":"status_request","from_host":from,"usernames":["alice","bob","ghost"]}).to_string();

    let st = s2s_from("127.0.0.9", a.addr, &ask("127.0.0.9")).await;
    assert_eq!(st, json!({"status":"ok","online_map":{"alice":true,"bob":false}}));
    for (src, from) in [("127.0.0.1", "127.0.0.9"), ("127.0.0.9", "unknown.invalid"), ("127.0.0.9", a.name.as_str())] {
        let st = s2s_from(src, a.addr, &ask(from)).await;
        assert_eq!(st["status"], "error", "{src} claiming {from}: {st}");
        assert!(st.get("online_map").is_none());
    }
}

#[tokio::test]
async fn private_peers_can_be_refused() {
    let hs = hosts(1, &[], "allow_private_peers = false").await;
    let a = &hs[0];
    let mut alice = a.user("alice").await;
    alice.send("/pm bob@127.0.0.3 hi").await;
    alice.expect("Failed to send private message to bob@127.0.0.3.").await;
    // Nor is a loopback host dialled back.
    assert_eq!(s2s(a.addr, &forged_pm("127.0.0.3", "1", "x")).await, dialback_failed());
    let deadline = Instant::now() + Duration::from_secs(2);
    while !a.logs().contains("allow_private_peers = false") && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(a.logs().contains("refusing to connect to 127.0.0.3"), "{}", a.logs());
}
