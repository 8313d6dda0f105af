//! The status capability across hosts (docs/capabilities.md, docs/protocol.md §9): `/status-check USER@HOST`
//! (`status_request`, answered by the core) and remote subscriptions
//! (`presence_subscribe` / `presence_unsubscribe` / `presence_update`, handled by
//! the plugin through the core's s2s hooks after dialback).

mod federation_support;

use federation_support::{hosts, s2s, FakePeer};
use std::time::Duration;

fn require_plugin() {
    let so = dmconnect_e2e::target_dir().join("libdmcap_status.so");
    assert!(so.exists(), "{} is missing: run `cargo build --workspace` first", so.display());
}

#[tokio::test]
async fn status_check_and_subscriptions_across_hosts() {
    require_plugin();
    let hs = hosts(2, &["status"], "").await;
    let (a, b) = (&hs[0], &hs[1]);
    let mut alice = a.user("alice").await;
    let bob = b.user("bob").await;

    alice.send(&format!("/status-check {}", b.at("bob"))).await;
    alice.expect(&format!("{} is online.", b.at("bob"))).await;
    alice.send(&format!("/status-sub-add {}", b.at("nobody"))).await;
    alice.expect("User does not exist.").await;
    alice.send(&format!("/status-sub-add {}", b.at("bob"))).await;
    alice.expect(&format!("Subscribed to {}.", b.at("bob"))).await;
    alice.send("/status-sub-list").await;
    alice.expect(&format!("Subscriptions list: {}", b.at("bob"))).await;

    // bob's host tells alice's host when bob's last session goes and his first comes back.
    drop(bob);
    alice.expect(&format!("{} is offline.", b.at("bob"))).await;
    alice.send(&format!("/status-check {}", b.at("bob"))).await;
    alice.expect(&format!("{} is offline.", b.at("bob"))).await;
    let bob = dmconnect_e2e::Client::login(b.addr, "bob", "pw").await;
    alice.expect(&format!("{} is online.", b.at("bob"))).await;

    // After unsubscribing, nothing more arrives.
    alice.send(&format!("/status-sub-del {}", b.at("bob"))).await;
    alice.expect(&format!("Unsubscribed from {}.", b.at("bob"))).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(bob);
    // A disconnect on another host has no marker here.
    alice.expect_nothing(500).await;
}

#[tokio::test]
async fn forged_presence_update_is_refused() {
    require_plugin();
    let hs = hosts(2, &["status"], "").await;
    let (a, b) = (&hs[0], &hs[1]);
    let mut alice = a.user("alice").await;
    let _bob = b.user("bob").await;
    alice.send(&format!("/status-sub-add {}", b.at("bob"))).await;
    alice.expect(&format!("Subscribed to {}.", b.at("bob"))).await;

    // Someone else claims to be bob's host: B never sent this, so dialback fails.
    let forged =
        format!(r#"{{"type":"presence_update","from_host":"{}","msg_id":"f00d","user":"bob","online":false}}"#, b.name);
    assert_eq!(s2s(a.addr, &forged).await, serde_json::json!({"status":"error","reason":"Dialback failed"}));
    // Anything delivered would be queued before the answer above.
    alice.expect_nothing_queued().await;

    // A peer that does confirm its messages (like the reference) is heard.
    let peer = FakePeer::start("127.0.0.9", a.addr.port()).await;
    alice.send("/status-sub-add zed@127.0.0.9").await;
    alice.expect("Subscribed to zed@127.0.0.9.").await;
    let sub = peer.wait_for("presence_subscribe", |v| v["type"] == "presence_subscribe").await;
    assert_eq!(sub["subscriber"], "alice");
    assert_eq!(sub["target"], "zed");
    assert_eq!(sub["from_host"], a.name.as_str());
    let update = peer.request(serde_json::json!({"type":"presence_update","user":"zed","online":true}));
    assert_eq!(s2s(a.addr, &update).await["status"], "ok");
    alice.expect("zed@127.0.0.9 is online.").await;
}
