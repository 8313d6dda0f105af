//! Cluster mode: nodes of one host share PostgreSQL and NATS. Skipped with a
//! note unless `DMC_PG_URL` and `DMC_NATS_URL` are set (`.ci/run` sets them).

use dmconnect_e2e::cluster::{
    alice_and_bob_in_general, builder, node, services, settle, Services, HEARTBEAT_MS, NODE_TIMEOUT_MS,
};
use dmconnect_e2e::{Client, GREETING};
use std::time::{Duration, Instant};

#[tokio::test]
async fn account_registered_on_one_node_logs_in_on_another() {
    let Some(svc) = services("accounts").await else { return };
    let (a, b) = (node(0, &svc).await, node(1, &svc).await);
    drop(Client::login_new(a.addr(), "alice", "pw").await);
    drop(Client::login(b.addr(), "alice", "pw").await);
    let mut c = Client::connect(b.addr()).await;
    c.expect(GREETING).await;
    c.send("/register alice other").await;
    c.expect("Username already taken. Try another.").await;
}

#[tokio::test]
async fn one_room_over_two_nodes() {
    let Some(svc) = services("room").await else { return };
    let (a, b) = (node(0, &svc).await, node(1, &svc).await);
    let (mut alice, mut bob) = alice_and_bob_in_general(&a, &b).await;
    bob.send("/members").await;
    bob.expect("Members in 'general': alice, bob").await;
    alice.send("/members").await;
    alice.expect("Members in 'general': alice, bob").await;
    bob.send("hi alice").await;
    bob.expect("bob: hi alice").await;
    alice.expect("bob: hi alice").await;
    alice.send("/act waves").await;
    alice.expect("*** alice waves").await;
    bob.expect("*** alice waves").await;

    // A second session of alice, on bob's node: no notices (she is already there).
    let mut alice2 = Client::login(b.addr(), "alice", "pw").await;
    alice2.send("/join_server general").await;
    alice2.expect("Joined server 'general' successfully.").await;
    drop(alice2);
    bob.send("marker").await;
    bob.expect("bob: marker").await;
    alice.expect("bob: marker").await;
    // Her last session anywhere leaves: now the notice.
    drop(alice);
    bob.expect("*** alice has left the server.").await;
}

#[tokio::test]
async fn one_bus_message_per_line_whatever_the_member_count() {
    use futures_util::StreamExt;
    let Some(svc) = services("fanout").await else { return };
    let (a, b) = (node(0, &svc).await, node(1, &svc).await);
    let mut speaker = Client::login_new(a.addr(), "speaker", "pw").await;
    speaker.join("general").await;
    let mut listeners = Vec::new();
    for i in 0..6 {
        let at = if i % 2 == 0 { a.addr() } else { b.addr() };
        let mut c = Client::login_new(at, &format!("l{i}"), "pw").await;
        c.send("/join_server general").await;
        c.expect("Joined server 'general' successfully.").await;
        listeners.push(c);
    }
    settle().await;
    let nats = async_nats::connect(svc.nats.as_str()).await.expect("nats");
    // The host has dots, so its subject token is hex-coded: listen to every room subject of every host.
    let mut sub = nats.subscribe("dmc.*.room.>").await.expect("subscribe");
    // `flush` only empties the client's buffer: see our own probe come back, so the
    // server surely has the subscription before the line is said.
    nats.publish("dmc.probe.room.probe", "probe".into()).await.expect("probe");
    loop {
        let m = tokio::time::timeout(Duration::from_secs(10), sub.next()).await.expect("probe back").expect("open");
        if &m.payload[..] == b"probe" {
            break;
        }
    }
    speaker.send("to everyone").await;
    for l in listeners.iter_mut().chain([&mut speaker]) {
        loop {
            if l.recv().await == "speaker: to everyone" {
                break;
            }
        }
    }
    let mut lines = 0;
    while let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(300), sub.next()).await {
        if String::from_utf8_lossy(&m.payload).contains("to everyone") {
            lines += 1;
        }
    }
    assert_eq!(lines, 1, "bus messages for one line to 7 members on 2 nodes");
}

#[tokio::test]
async fn pm_across_nodes_and_a_room_made_elsewhere() {
    let Some(svc) = services("pm").await else { return };
    let (a, b) = (node(0, &svc).await, node(1, &svc).await);
    let mut alice = Client::login_new(a.addr(), "alice", "pw").await;
    let mut bob = Client::login_new(b.addr(), "bob", "pw").await;
    settle().await;
    alice.send("/pm bob psst").await;
    alice.expect("Private message sent to bob.").await;
    bob.expect("(Private) alice: psst").await;
    alice.send("/create_server lounge").await;
    alice.expect("Server 'lounge' created successfully.").await;
    settle().await;
    bob.send("/list_servers").await;
    bob.expect("Servers: general, lounge").await;
    bob.join("lounge").await;
}

#[tokio::test]
async fn status_subscribers_hear_logins_on_other_nodes() {
    let Some(svc) = services("status").await else { return };
    let a = builder(0, &svc).capabilities(&["status"]).start().await;
    let b = builder(1, &svc).capabilities(&["status"]).start().await;
    drop(Client::login_new(a.addr(), "bob", "pw").await);
    let mut alice = Client::login_new(a.addr(), "alice", "pw").await;
    alice.send("/status-sub-add bob").await;
    alice.expect("Subscribed to bob.").await;
    let bob = Client::login(b.addr(), "bob", "pw").await;
    alice.expect("bob is online.").await;
    alice.send("/status-check bob").await;
    alice.expect("bob is online.").await;
    // A second session on alice's node is not a new login; losing the first is not a logout.
    let bob_here = Client::login(a.addr(), "bob", "pw").await;
    drop(bob);
    settle().await;
    alice.send("/status-check bob").await;
    alice.expect("bob is online.").await;
    drop(bob_here);
    alice.expect("bob is offline.").await;
}

#[tokio::test]
async fn a_ban_on_one_node_closes_sessions_on_another() {
    let Some(svc) = services("ban").await else { return };
    let (a, mut b) = (node(0, &svc).await, node(1, &svc).await);
    let mut mallory = Client::login_new(b.addr(), "mallory", "pw").await;
    let mut root = Client::login_new(a.addr(), "root", "pw").await;
    root.send("/ban mallory").await;
    root.expect("User 'mallory' has been banned.").await;
    mallory.expect("You have been banned from this server.").await;
    assert!(mallory.closed_within(2000).await, "mallory's session on the other node stayed open");
    // Committed before the reply: a node killed right after still refuses the login.
    b.kill().await;
    b.restart().await;
    let mut m = Client::connect(b.addr()).await;
    m.expect(GREETING).await;
    m.send("/login mallory pw").await;
    m.expect("This account is banned.").await;
}

#[tokio::test]
async fn a_killed_node_leaves_its_rooms_and_the_others_carry_on() {
    let Some(svc) = services("kill").await else { return };
    let (mut a, b) = (node(0, &svc).await, node(1, &svc).await);
    let mut alice = Client::login_new(a.addr(), "alice", "pw").await;
    alice.join("general").await;
    let mut bob = Client::login_new(b.addr(), "bob", "pw").await;
    let mut carol = Client::login_new(b.addr(), "carol", "pw").await;
    settle().await;
    bob.join("general").await;
    carol.send("/join_server general").await;
    carol.expect("Joined server 'general' successfully.").await;
    carol.expect("*** carol has joined the server.").await;
    alice.expect("*** bob has joined the server.").await;
    alice.expect("*** carol has joined the server.").await;
    bob.expect("*** carol has joined the server.").await;
    let t = Instant::now();
    a.kill().await;
    bob.expect("*** alice has left the server.").await;
    carol.expect("*** alice has left the server.").await;
    let bound = Duration::from_millis(NODE_TIMEOUT_MS + 2 * HEARTBEAT_MS + 500);
    assert!(t.elapsed() < bound, "left after {:?}", t.elapsed());
    bob.send("still here").await;
    bob.expect("bob: still here").await;
    carol.expect("bob: still here").await;
    bob.send("/members").await;
    bob.expect("Members in 'general': bob, carol").await;
    // alice comes back through the surviving node.
    let mut alice = Client::login(b.addr(), "alice", "pw").await;
    alice.join("general").await;
    bob.expect("*** alice has joined the server.").await;
}

/// A NATS server of this test's own (restarting the shared one would disturb the other tests).
struct Nats {
    port: u16,
    dir: std::path::PathBuf,
    child: Option<std::process::Child>,
}

impl Nats {
    fn start(&mut self) {
        let child = std::process::Command::new("nats-server")
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string(), "-sd"])
            .arg(&self.dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("nats-server on PATH");
        self.child = Some(child);
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.stop();
    }
}

#[tokio::test]
async fn nodes_recover_when_nats_comes_back() {
    let Some(svc) = services("natsrestart").await else { return };
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut nats = Nats { port, dir: dmconnect_e2e::temp_dir("nats"), child: None };
    nats.start();
    let url = format!("nats://127.0.0.1:{port}");
    for _ in 0..50 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let svc = Services { nats: url, ..svc };
    let (a, b) = (node(0, &svc).await, node(1, &svc).await);
    let (mut alice, mut bob) = alice_and_bob_in_general(&a, &b).await;

    nats.stop();
    tokio::time::sleep(Duration::from_millis(300)).await;
    alice.send("lost?").await;
    alice.expect("The cluster is unreachable from this node right now; please try again shortly.").await;
    nats.start();
    // Say a numbered line until the bus is back; bob must then see the last one.
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut n = 0;
    loop {
        n += 1;
        alice.send(&format!("back {n}")).await;
        let r = alice.recv().await;
        if r == format!("alice: back {n}") {
            break;
        }
        assert!(Instant::now() < deadline, "no recovery: {r}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let want = format!("alice: back {n}");
    loop {
        let line = bob.recv().await;
        if line == want {
            break;
        }
    }
    bob.send("/members").await;
    loop {
        let line = bob.recv().await;
        if line.starts_with("Members in") {
            assert_eq!(line, "Members in 'general': alice, bob");
            break;
        }
    }
}
