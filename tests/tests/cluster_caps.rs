//! Capabilities in cluster mode: state made on one node holds on the others
//! (the storage change feed), session IPs and history across nodes. Skipped
//! unless `DMC_PG_URL` and `DMC_NATS_URL` are set (see tests/tests/cluster.rs).

mod cap_support;

use cap_support::{history, require};
use dmconnect_e2e::cluster::{alice_and_bob_in_general, builder, services, settle};
use dmconnect_e2e::{Client, GREETING};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Sends `cmd` until it is answered `want`; returns how long that took (at most 5 s).
async fn until_answer(c: &mut Client, cmd: &str, want: &str) -> Duration {
    let t = Instant::now();
    loop {
        c.send(cmd).await;
        let got = c.recv().await;
        if got == want {
            return t.elapsed();
        }
        assert!(t.elapsed() < Duration::from_secs(5), "{cmd}: still {got:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Two nodes with `caps` loaded.
async fn two_nodes(tag: &str, caps: &[&str]) -> Option<(dmconnect_e2e::TestServer, dmconnect_e2e::TestServer)> {
    require(caps);
    let svc = services(tag).await?;
    let a = builder(0, &svc).capabilities(caps).start().await;
    let b = builder(1, &svc).capabilities(caps).start().await;
    Some((a, b))
}

#[tokio::test]
async fn an_ignore_made_on_one_node_holds_on_another_within_a_second() {
    let Some((a, b)) = two_nodes("ignore", &["ignore"]).await else { return };
    let mut alice = Client::login_new(a.addr(), "alice", "pw").await;
    let mut alice_b = Client::login(b.addr(), "alice", "pw").await;
    let mut bob = Client::login_new(b.addr(), "bob", "pw").await;
    let mut carol = Client::login_new(b.addr(), "carol", "pw").await;
    alice.join("general").await;
    settle().await;
    alice_b.send("/join_server general").await;
    alice_b.expect("Joined server 'general' successfully.").await;
    bob.join("general").await;
    carol.join("general").await;
    bob.expect("*** carol has joined the server.").await;
    for c in [&mut alice, &mut alice_b] {
        c.expect("*** bob has joined the server.").await;
        c.expect("*** carol has joined the server.").await;
    }
    alice.send("/ignore-add bob").await;
    alice.expect("Ignoring bob.").await;
    let took = until_answer(&mut alice_b, "/ignore-list", "Ignore list: bob").await;
    assert!(took < Duration::from_secs(1), "node B saw the ignore after {took:?}");
    bob.send("/pm alice psst").await;
    bob.expect("Private message sent to alice.").await;
    bob.send("hello all").await;
    bob.expect("bob: hello all").await;
    carol.send("marker").await;
    bob.expect("carol: marker").await;
    // Neither of alice's sessions gets bob's lines; the marker comes first.
    for c in [&mut alice, &mut alice_b] {
        loop {
            let line = c.recv().await;
            assert!(!line.contains("psst") && !line.contains("hello all"), "ignored line delivered: {line}");
            if line == "carol: marker" {
                break;
            }
        }
    }
    // And back: cleared on B, delivered on A.
    alice_b.send("/ignore-clear").await;
    alice_b.expect("Ignore list cleared.").await;
    until_answer(&mut alice, "/ignore-list", "Ignore list is empty.").await;
    bob.send("/pm alice again").await;
    bob.expect("Private message sent to alice.").await;
    alice.expect("(Private) bob: again").await;
}

#[tokio::test]
async fn a_status_subscription_made_on_one_node_notifies_sessions_on_another() {
    let Some((a, b)) = two_nodes("statussub", &["status"]).await else { return };
    drop(Client::login_new(a.addr(), "bob", "pw").await);
    let mut alice = Client::login_new(a.addr(), "alice", "pw").await;
    let mut alice_b = Client::login(b.addr(), "alice", "pw").await;
    alice.send("/status-sub-add bob").await;
    alice.expect("Subscribed to bob.").await;
    let took = until_answer(&mut alice_b, "/status-sub-list", "Subscriptions list: bob").await;
    assert!(took < Duration::from_secs(1), "node B saw the subscription after {took:?}");
    let bob = Client::login(b.addr(), "bob", "pw").await;
    alice.expect("bob is online.").await;
    alice_b.expect("bob is online.").await;
    alice_b.send("/status-check bob").await;
    alice_b.expect("bob is online.").await;
    drop(bob);
    alice.expect("bob is offline.").await;
    alice_b.expect("bob is offline.").await;
    // Exactly once each: the next line is the marker's answer.
    for c in [&mut alice, &mut alice_b] {
        c.send("/status-sub-list").await;
        c.expect("Subscriptions list: bob").await;
    }
}

/// Logs `name` in from source address `src`.
async fn login_from(addr: SocketAddr, src: &str, name: &str) -> Client {
    let mut c = Client::connect_from(addr, src).await;
    c.expect(GREETING).await;
    c.send(&format!("/login {name} pw")).await;
    c.expect("Login successful.").await;
    c.recv().await;
    c.expect("Select a server using /join_server <server_name>.").await;
    c
}

#[tokio::test]
async fn sessions_lists_the_ips_of_every_node() {
    let Some((a, b)) = two_nodes("sessions", &["sessions"]).await else { return };
    drop(Client::login_new(a.addr(), "alice", "pw").await);
    let mut on_a = login_from(a.addr(), "127.0.0.5", "alice").await;
    let _on_b = login_from(b.addr(), "127.0.0.6", "alice").await;
    until_answer(&mut on_a, "/sessions-list", "Active session IPs: 127.0.0.5 (this is you), 127.0.0.6").await;
}

#[tokio::test]
async fn history_on_one_node_shows_lines_said_on_another_once() {
    let Some((a, b)) = two_nodes("history", &["history"]).await else { return };
    let (mut alice, mut bob) = alice_and_bob_in_general(&a, &b).await;
    alice.send("from node a").await;
    alice.expect("alice: from node a").await;
    bob.expect("alice: from node a").await;
    bob.send("/act answers from node b").await;
    bob.expect("*** bob answers from node b").await;
    alice.expect("*** bob answers from node b").await;
    let want = [
        "*** alice has joined the server.",
        "*** bob has joined the server.",
        "alice: from node a",
        "*** bob answers from node b",
        "End of history.",
    ];
    assert_eq!(history(&mut alice, "/history-last").await, want);
    assert_eq!(history(&mut bob, "/history-last").await, want);
}
