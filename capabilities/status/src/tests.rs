//! In-process tests through the FFI adapter with a fake host.

use super::*;
use plugin_api::loader::Plugin;
use plugin_api::testing::start_in_process;
use plugin_api::testing::FakeHost;

fn caller(name: &str) -> Caller {
    Caller { account: name.into(), session_id: 1, peer_ip: "127.0.0.1".parse().unwrap(), room: None }
}

fn run(p: &Plugin, who: &str, cmd: &str, args: &str) -> String {
    p.command(cmd, args, &caller(who)).unwrap().unwrap()
}

fn online(host: &FakeHost, who: &[&str]) {
    let mut s = host.lock();
    for w in who {
        s.online.insert(w.to_string(), vec![]);
    }
}

#[test]
fn local_texts_and_notifications() {
    let host = FakeHost::new(&["alice", "bob"]);
    online(&host, &["alice"]);
    let p = start_in_process(Status::new, host.clone()).unwrap();
    assert_eq!(run(&p, "alice", "check", ""), "Usage: /status-check <username>");
    assert_eq!(run(&p, "alice", "check", "bob"), "bob is offline.");
    assert_eq!(run(&p, "alice", "check", "alice@here.test"), "alice is online.");
    assert_eq!(run(&p, "alice", "check", "nobody"), "User does not exist.");
    assert_eq!(run(&p, "alice", "sub-list", ""), "Subscriptions list is empty.");
    assert_eq!(run(&p, "alice", "sub-add", "alice"), "You cannot subscribe to yourself.");
    assert_eq!(run(&p, "alice", "sub-add", "nobody"), "User does not exist.");
    assert_eq!(run(&p, "alice", "sub-add", "bob"), "Subscribed to bob.");
    assert_eq!(run(&p, "alice", "sub-add", "bob"), "Already subscribed to bob.");
    assert_eq!(run(&p, "alice", "sub-list", ""), "Subscriptions list: bob");
    p.presence("bob", None, true).unwrap();
    assert_eq!(host.take_sent(), vec![("alice".to_string(), "bob is online.".to_string())]);
    assert_eq!(run(&p, "alice", "sub-del", "carol"), "Not subscribed to carol.");
    assert_eq!(run(&p, "alice", "sub-del", "bob"), "Unsubscribed from bob.");
    p.presence("bob", None, false).unwrap();
    assert!(host.take_sent().is_empty());
    assert_eq!(run(&p, "alice", "sub-clear", ""), "Subscriptions cleared.");
}

#[test]
fn subscriptions_survive_a_restart() {
    let host = FakeHost::new(&["alice", "bob", "carol"]);
    online(&host, &["alice"]);
    let p = start_in_process(Status::new, host.clone()).unwrap();
    run(&p, "alice", "sub-add", "bob");
    run(&p, "alice", "sub-add", "carol");
    drop(p);
    let p = start_in_process(Status::new, host.clone()).unwrap();
    assert_eq!(run(&p, "alice", "sub-list", ""), "Subscriptions list: bob, carol");
    p.presence("carol", None, false).unwrap();
    assert_eq!(host.take_sent(), vec![("alice".to_string(), "carol is offline.".to_string())]);
}

#[test]
fn remote_checks_and_subscriptions() {
    let host = FakeHost::new(&["alice", "bob"]);
    online(&host, &["alice"]);
    host.lock().s2s_answers.insert("far.test".into(), r#"{"status":"ok","online_map":{"zed":true}}"#.into());
    let p = start_in_process(Status::new, host.clone()).unwrap();
    assert_eq!(run(&p, "alice", "check", "zed@far.test"), "zed@far.test is online.");
    assert_eq!(run(&p, "alice", "check", "zed@gone.test"), "Failed to check the status of zed@gone.test.");
    assert_eq!(run(&p, "alice", "sub-add", "zed@gone.test"), "Failed to subscribe to zed@gone.test.");
    assert_eq!(run(&p, "alice", "sub-add", "zed@far.test"), "Subscribed to zed@far.test.");
    let sent = host.lock().s2s.last().cloned().unwrap();
    assert_eq!(sent.0, "far.test");
    let v: Value = serde_json::from_str(&sent.1).unwrap();
    assert_eq!(v, json!({"type": "presence_subscribe", "subscriber": "alice", "target": "zed"}));
    // The target host reports zed coming online.
    let answer = p.s2s("presence_update", "far.test", r#"{"type":"presence_update","user":"zed","online":true}"#);
    assert_eq!(answer.unwrap().as_deref(), Some(r#"{"status":"ok"}"#));
    assert_eq!(host.take_sent(), vec![("alice".to_string(), "zed@far.test is online.".to_string())]);
    // The same update again (every node of a cluster may send it): passed on once.
    p.s2s("presence_update", "far.test", r#"{"type":"presence_update","user":"zed","online":true}"#).unwrap();
    assert!(host.take_sent().is_empty());
    assert_eq!(run(&p, "alice", "sub-del", "zed@far.test"), "Unsubscribed from zed@far.test.");
    let v: Value = serde_json::from_str(&host.lock().s2s.last().unwrap().1).unwrap();
    assert_eq!(v["type"], "presence_unsubscribe");
}

#[test]
fn inbound_subscriptions_send_presence_updates() {
    let host = FakeHost::new(&["bob"]);
    let p = start_in_process(Status::new, host.clone()).unwrap();
    let sub = r#"{"type":"presence_subscribe","subscriber":"alice","target":"bob"}"#;
    assert_eq!(p.s2s("presence_subscribe", "near.test", sub).unwrap().as_deref(), Some(r#"{"status":"ok"}"#));
    let nobody = r#"{"type":"presence_subscribe","subscriber":"alice","target":"nobody"}"#;
    assert_eq!(
        p.s2s("presence_subscribe", "near.test", nobody).unwrap().as_deref(),
        Some(r#"{"reason":"user_not_found","status":"error"}"#)
    );
    p.presence("bob", None, true).unwrap();
    let (to, msg) = host.lock().s2s.last().cloned().unwrap();
    assert_eq!(to, "near.test");
    let v: Value = serde_json::from_str(&msg).unwrap();
    assert_eq!(v, json!({"type": "presence_update", "user": "bob", "online": true}));
    // Persisted, and gone after unsubscribe.
    let again = start_in_process(Status::new, host.clone()).unwrap();
    let unsub = r#"{"type":"presence_unsubscribe","subscriber":"alice","target":"bob"}"#;
    assert_eq!(again.s2s("presence_unsubscribe", "near.test", unsub).unwrap().as_deref(), Some(r#"{"status":"ok"}"#));
    host.lock().s2s.clear();
    again.presence("bob", None, false).unwrap();
    assert!(host.lock().s2s.is_empty());
    assert!(host.lock().kv.is_empty());
}

#[test]
fn lists_changed_by_another_node_are_reread() {
    let host = FakeHost::new(&["alice", "bob"]);
    let p = start_in_process(Status::new, host.clone()).unwrap();
    assert!(p.info().kv_changes);
    host.lock().kv.insert("subs/alice".into(), r#"["bob"]"#.into());
    p.kv_changed("subs/alice").unwrap();
    assert_eq!(run(&p, "alice", "sub-list", ""), "Subscriptions list: bob");
    host.lock().kv.remove("subs/alice");
    p.kv_changed("subs/alice").unwrap();
    assert_eq!(run(&p, "alice", "sub-list", ""), "Subscriptions list is empty.");
}
