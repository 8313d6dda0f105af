//! Node A is cut off from NATS (its NATS server of a two-server NATS cluster
//! dies) while a user of another host joins through node B; once A's server is
//! back, node A lists the member (resynchronised from node B's heartbeat).
//! Skipped unless `DMC_PG_URL` and `DMC_NATS_URL` are set (see tests/tests/cluster.rs).

mod federation_support;

use dmconnect_e2e::cluster::{builder, services, settle, Services};
use dmconnect_e2e::Client;
use federation_support::{fed_toml, free_port, Host};
use std::time::{Duration, Instant};

/// One server of a NATS cluster of this test's own: clients are not told of
/// the other server (`--no_advertise`), so its nodes are cut off while it is down.
struct NatsServer {
    args: Vec<String>,
    port: u16,
    child: Option<std::process::Child>,
}

impl NatsServer {
    fn new(port: u16, route_port: u16, peer_route: u16) -> NatsServer {
        let args = [
            "-a",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "--cluster_name",
            "dmc",
            "--cluster",
            &format!("nats://127.0.0.1:{route_port}"),
            "--routes",
            &format!("nats://127.0.0.1:{peer_route}"),
            "--no_advertise",
        ];
        NatsServer { args: args.iter().map(|s| s.to_string()).collect(), port, child: None }
    }

    async fn start(&mut self) {
        let child = std::process::Command::new("nats-server")
            .args(&self.args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("nats-server on PATH");
        self.child = Some(child);
        for _ in 0..50 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("nats-server on {} did not start", self.port);
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// Reads lines until `want` (others are notices of the outage itself).
async fn until(c: &mut Client, want: &str) {
    let t = Instant::now();
    while c.recv().await != want {
        assert!(t.elapsed() < Duration::from_secs(15), "never got {want:?}");
    }
}

#[tokio::test]
async fn a_remote_join_missed_during_a_nats_outage_reaches_the_node_after() {
    let Some(svc) = services("resync").await else { return };
    let (p1, p2, r1, r2) = (port(), port(), port(), port());
    let (mut s1, mut s2) = (NatsServer::new(p1, r1, r2), NatsServer::new(p2, r2, r1));
    s1.start().await;
    s2.start().await;
    let on = |p: u16| Services { db: svc.db.clone(), nats: format!("nats://127.0.0.1:{p}"), host: svc.host.clone() };
    let (svc_a, svc_b) = (on(p1), on(p2));
    let port = free_port(&["127.0.0.1", "127.0.0.2", "127.0.0.3"]);
    let fed = fed_toml(port, "");
    let a = builder(0, &svc_a).listen_port(port).server_key("sniff_ms", "50").toml(&fed).start().await;
    let b = builder(1, &svc_b).listen_port(port).server_key("sniff_ms", "50").toml(&fed).start().await;
    let x = Host::start("127.0.0.3", port, &[], &format!("peers = {{ {:?} = \"127.0.0.2:{port}\" }}", svc.host)).await;

    // Both nodes in general, once the two NATS servers route to each other.
    let mut alice = Client::login_new(a.addr(), "alice", "pw").await;
    alice.join("general").await;
    let mut bob = Client::login_new(b.addr(), "bob", "pw").await;
    bob.join("general").await;
    until(&mut alice, "*** bob has joined the server.").await;
    settle().await;

    s1.stop();
    tokio::time::sleep(Duration::from_millis(300)).await;
    alice.send("lost?").await;
    until(&mut alice, "The cluster is unreachable from this node right now; please try again shortly.").await;
    let mut xavier = x.user("xavier").await;
    xavier.join(&format!("general@{}", svc.host)).await;
    let xavier_at = x.at("xavier");
    until(&mut bob, &format!("*** {xavier_at} has joined the server.")).await;
    s1.start().await;

    // Within a few seconds node A lists the member.
    let want = format!("Members in 'general': alice, bob, {xavier_at}");
    let t = Instant::now();
    loop {
        alice.send("/members").await;
        let got = loop {
            let line = alice.recv().await;
            if line.starts_with("Members in") {
                break line;
            }
        };
        if got == want {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(15), "node A never listed {xavier_at}: {got}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!("node A listed the member {:?} after its NATS server came back", t.elapsed());
    a.wait_for_log("cluster: resync: a user of another host joined meanwhile").await;
    // And the member's lines reach node A.
    xavier.send("back").await;
    until(&mut alice, &format!("{xavier_at}: back")).await;
    drop(s2);
}
