//! A node dies: its users leave the subservers of other hosts they were in
//! (`room_leave`), and the member hosts of this host's subservers hear that
//! they left (a room event), as the dead node would have told them, from
//! exactly one surviving node. Skipped unless `DMC_PG_URL` and `DMC_NATS_URL`
//! are set (see tests/tests/cluster.rs).

mod federation_support;

use dmconnect_e2e::cluster::{builder, services, settle};
use dmconnect_e2e::Client;
use federation_support::{fed_toml, free_port, Host};

#[tokio::test]
async fn a_dead_nodes_users_leave_other_hosts_rooms_once() {
    let Some(svc) = services("departures").await else { return };
    let port = free_port(&["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"]);
    let node = |n: u8| builder(n, &svc).listen_port(port).server_key("sniff_ms", "50").toml(&fed_toml(port, ""));
    let (mut a, b, c) = (node(0).start().await, node(1).start().await, node(2).start().await);
    // The other host knows the cluster by node B's address.
    let x = Host::start("127.0.0.4", port, &[], &format!("peers = {{ {:?} = \"127.0.0.2:{port}\" }}", svc.host)).await;
    let at_cluster = |u: &str| format!("{u}@{}", svc.host);

    // On node A: alice in the cluster's general (with bob on node B), amy in the other host's general.
    let mut alice = Client::login_new(a.addr(), "alice", "pw").await;
    alice.join("general").await;
    let mut bob = Client::login_new(b.addr(), "bob", "pw").await;
    settle().await;
    bob.join("general").await;
    alice.expect("*** bob has joined the server.").await;
    let mut xena = x.user("xena").await;
    xena.join("general").await;
    let mut amy = Client::login_new(a.addr(), "amy", "pw").await;
    // The other host's events reach the cluster through node B, which passes them to node A.
    amy.join("general@127.0.0.4").await;
    xena.expect(&format!("*** {} has joined the server.", at_cluster("amy"))).await;
    xena.send("hi amy").await;
    xena.expect("xena: hi amy").await;
    amy.expect(&format!("{}: hi amy", x.at("xena"))).await;
    // A user of the other host in the cluster's general, through node B.
    let mut xavier = x.user("xavier").await;
    xavier.join(&format!("general@{}", svc.host)).await;
    for cl in [&mut alice, &mut bob] {
        cl.expect(&format!("*** {} has joined the server.", x.at("xavier"))).await;
    }
    settle().await;

    a.kill().await;
    bob.expect("*** alice has left the server.").await;
    xavier.expect(&format!("*** {} has left the server.", at_cluster("alice"))).await;
    xena.expect(&format!("*** {} has left the server.", at_cluster("amy"))).await;
    // Once, not once per surviving node (B and C both noticed).
    for cl in [&mut xavier, &mut xena] {
        cl.expect_nothing(1500).await;
        cl.expect_nothing_queued().await;
    }
    xena.send("/members").await;
    xena.expect("Members in 'general': xena").await;
    let told =
        [&b, &c].iter().filter(|n| n.logs().contains("telling member hosts that a dead node's user left")).count();
    assert_eq!(told, 1, "exactly one surviving node speaks for the dead one");
}
