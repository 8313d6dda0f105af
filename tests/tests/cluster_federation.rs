//! Federation with a cluster: two separate hosts reach the cluster through
//! different nodes (their `peers` entries) while users on every node talk to
//! them; a dialback about a message another node sent is answered from the
//! cluster's shared records.
//! Skipped unless `DMC_PG_URL` and `DMC_NATS_URL` are set (see tests/tests/cluster.rs).

mod federation_support;

use dmconnect_e2e::cluster::{alice_and_bob_in_general, builder, services};
use dmconnect_e2e::TestServer;
use federation_support::{fed_toml, free_port, s2s_from, Host};
use serde_json::json;

#[tokio::test]
async fn a_separate_host_talks_with_users_on_both_nodes() {
    let Some(svc) = services("fed").await else { return };
    let port = free_port(&["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"]);
    let node = |n: u8| -> dmconnect_e2e::Builder {
        builder(n, &svc).listen_port(port).server_key("sniff_ms", "50").toml(&fed_toml(port, ""))
    };
    let (a, b): (TestServer, TestServer) = (node(0).start().await, node(1).start().await);
    // The other host knows the cluster by one address: node B's.
    let x = Host::start("127.0.0.3", port, &[], &format!("peers = {{ {:?} = \"127.0.0.2:{port}\" }}", svc.host)).await;
    // And another by node A's.
    let y = Host::start("127.0.0.4", port, &[], &format!("peers = {{ {:?} = \"127.0.0.1:{port}\" }}", svc.host)).await;
    let at_cluster = |u: &str| format!("{u}@{}", svc.host);

    let (mut alice, mut bob) = alice_and_bob_in_general(&a, &b).await;
    let mut xena = x.user("xena").await;

    // From node A: the other host's dialback goes to node B, which finds A's record in the shared store.
    alice.send(&format!("/pm {} hi from a", x.at("xena"))).await;
    alice.expect(&format!("Private message sent to {}.", x.at("xena"))).await;
    xena.expect(&format!("(Private) {}: hi from a", at_cluster("alice"))).await;
    // Into the cluster through node B, for a user on node A.
    xena.send(&format!("/pm {} hi alice", at_cluster("alice"))).await;
    xena.expect(&format!("Private message sent to {}.", at_cluster("alice"))).await;
    alice.expect(&format!("(Private) {}: hi alice", x.at("xena"))).await;

    // A room of the cluster, joined through node B: a member on both nodes.
    let room = format!("general@{}", svc.host);
    xena.join(&room).await;
    let (xena_at, yann_at) = (x.at("xena"), y.at("yann"));
    for c in [&mut alice, &mut bob] {
        c.expect(&format!("*** {xena_at} has joined the server.")).await;
    }
    alice.send("welcome").await;
    alice.expect("alice: welcome").await;
    bob.expect("alice: welcome").await;
    xena.expect(&format!("{}: welcome", at_cluster("alice"))).await;
    xena.send("thanks").await;
    xena.expect("xena: thanks").await;
    bob.expect(&format!("{xena_at}: thanks")).await;
    alice.expect(&format!("{xena_at}: thanks")).await;

    // A third host reaches the cluster through node A: everyone hears everyone, once.
    let mut yann = y.user("yann").await;
    yann.join(&room).await;
    for c in [&mut alice, &mut bob, &mut xena] {
        c.expect(&format!("*** {yann_at} has joined the server.")).await;
    }
    yann.send("hi from y").await;
    yann.expect("yann: hi from y").await;
    for c in [&mut alice, &mut bob, &mut xena] {
        c.expect(&format!("{yann_at}: hi from y")).await;
    }
    let members = format!("Members in 'general': alice, bob, {xena_at}, {yann_at}");
    for c in [&mut alice, &mut bob] {
        c.send("/members").await;
        c.expect(&members).await;
    }
    drop(xena);
    for c in [&mut alice, &mut bob, &mut yann] {
        c.expect(&format!("*** {xena_at} has left the server.")).await;
    }
    bob.send("marker").await;
    for c in [&mut alice, &mut bob] {
        c.expect("bob: marker").await;
    }
    yann.expect(&format!("{}: marker", at_cluster("bob"))).await;

    // A check about an id nobody in the cluster sent fails, whichever node gets it.
    let check =
        json!({"type": "dialback_check", "msg_id": "00".repeat(32), "msg_type": "remote_pm", "from_host": "127.0.0.3"});
    for n in [a.addr(), b.addr()] {
        let answer = s2s_from("127.0.0.3", n, &check.to_string()).await;
        assert_eq!(answer["result"], "fail", "{answer}");
    }
}
