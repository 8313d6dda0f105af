//! One account logging in (and out), or joining (and leaving) a subserver, on
//! two nodes at the same moment: the `status` subscribers on each node hear
//! `online` (and `offline`) once; member hosts hear the join (and leave) once.
//! Skipped unless `DMC_PG_URL` and `DMC_NATS_URL` are set (see tests/tests/cluster.rs).

mod federation_support;

use dmconnect_e2e::cluster::{builder, services, settle};
use dmconnect_e2e::Client;
use federation_support::{fed_toml, free_port, Host};

#[tokio::test]
async fn simultaneous_logins_on_two_nodes_are_one_online() {
    let Some(svc) = services("presence").await else { return };
    let a = builder(0, &svc).capabilities(&["status"]).start().await;
    let b = builder(1, &svc).capabilities(&["status"]).start().await;
    drop(Client::login_new(a.addr(), "bob", "pw").await);
    let mut alice = Client::login_new(a.addr(), "alice", "pw").await;
    alice.send("/status-sub-add bob").await;
    alice.expect("Subscribed to bob.").await;
    let mut carol = Client::login_new(b.addr(), "carol", "pw").await;
    carol.send("/status-sub-add bob").await;
    carol.expect("Subscribed to bob.").await;
    settle().await;
    for round in 0..6 {
        let (on_a, on_b) = tokio::join!(Client::login(a.addr(), "bob", "pw"), Client::login(b.addr(), "bob", "pw"));
        for c in [&mut alice, &mut carol] {
            c.expect("bob is online.").await;
        }
        settle().await;
        for c in [&mut alice, &mut carol] {
            c.expect_nothing_queued().await;
        }
        // Out on both at once, or one after the other within a heartbeat.
        if round % 2 == 0 {
            drop((on_a, on_b));
        } else {
            drop(on_b);
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            drop(on_a);
        }
        for c in [&mut alice, &mut carol] {
            c.expect("bob is offline.").await;
        }
        settle().await;
        for c in [&mut alice, &mut carol] {
            c.expect_nothing_queued().await;
        }
    }
}

/// Reads lines until the answer to a keep-alive (notices of the race itself may come before it).
async fn drain(c: &mut Client) {
    c.send("/").await;
    while c.recv().await != "*Ping*" {}
}

#[tokio::test]
async fn simultaneous_joins_and_leaves_on_two_nodes_reach_member_hosts_once() {
    let Some(svc) = services("roompresence").await else { return };
    let port = free_port(&["127.0.0.1", "127.0.0.2", "127.0.0.3"]);
    let node = |n: u8| builder(n, &svc).listen_port(port).server_key("sniff_ms", "50").toml(&fed_toml(port, ""));
    let (a, b) = (node(0).start().await, node(1).start().await);
    let x = Host::start("127.0.0.3", port, &[], &format!("peers = {{ {:?} = \"127.0.0.2:{port}\" }}", svc.host)).await;
    let mut alice = Client::login_new(a.addr(), "alice", "pw").await;
    alice.join("general").await;
    drop(Client::login_new(a.addr(), "bob", "pw").await);
    let mut xavier = x.user("xavier").await;
    xavier.join(&format!("general@{}", svc.host)).await;
    alice.expect(&format!("*** {} has joined the server.", x.at("xavier"))).await;
    settle().await;
    let bob_at = format!("bob@{}", svc.host);
    for _ in 0..3 {
        let (mut on_a, mut on_b) =
            tokio::join!(Client::login(a.addr(), "bob", "pw"), Client::login(b.addr(), "bob", "pw"));
        tokio::join!(on_a.send("/join_server general"), on_b.send("/join_server general"));
        for c in [&mut on_a, &mut on_b] {
            c.expect("Joined server 'general' successfully.").await;
            drain(c).await;
        }
        xavier.expect(&format!("*** {bob_at} has joined the server.")).await;
        xavier.expect_nothing(1000).await;
        xavier.expect_nothing_queued().await;
        drop((on_a, on_b));
        xavier.expect(&format!("*** {bob_at} has left the server.")).await;
        xavier.expect_nothing(1000).await;
        xavier.expect_nothing_queued().await;
        settle().await;
    }
    drain(&mut alice).await;
}
