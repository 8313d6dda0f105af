//! Federation between real servers on 127.0.0.x (docs/protocol.md §7, §9): remote PMs,
//! remote subservers, fan-out across three hosts, dead peers, dialback.

mod federation_support;

use federation_support::{hosts, s2s, FakePeer, Host};
use std::time::{Duration, Instant};

#[tokio::test]
async fn remote_pm_both_directions() {
    let hs = hosts(2, &[], "").await;
    let (a, b) = (&hs[0], &hs[1]);
    let mut alice = a.user("alice").await;
    let mut bob = b.user("bob").await;
    let mut bob2 = Client2::login(b, "bob").await;

    alice.send(&format!("/pm {} hello bob", b.at("bob"))).await;
    alice.expect(&format!("Private message sent to {}.", b.at("bob"))).await;
    let line = format!("(Private) {}: hello bob", a.at("alice"));
    bob.expect(&line).await;
    bob2.0.expect(&line).await;

    bob.send(&format!("/pm {} hi  alice, spaces kept", a.at("alice"))).await;
    bob.expect(&format!("Private message sent to {}.", a.at("alice"))).await;
    alice.expect(&format!("(Private) {}: hi  alice, spaces kept", b.at("bob"))).await;

    // Unknown account, known but offline account.
    alice.send(&format!("/pm {} x", b.at("nobody"))).await;
    alice.expect("User does not exist.").await;
    drop(Host::user(b, "carol").await);
    tokio::time::sleep(Duration::from_millis(100)).await;
    alice.send(&format!("/pm {} x", b.at("carol"))).await;
    alice.expect(&format!("Failed to send private message to {}.", b.at("carol"))).await;

    // USER@THISHOST is the local USER.
    let mut dave = a.user("dave").await;
    alice.send(&format!("/pm {} local", a.at("dave"))).await;
    alice.expect(&format!("Private message sent to {}.", a.at("dave"))).await;
    dave.expect("(Private) alice: local").await;
}

/// A second session of an existing account.
struct Client2(dmconnect_e2e::Client);

impl Client2 {
    async fn login(h: &Host, name: &str) -> Client2 {
        Client2(dmconnect_e2e::Client::login(h.addr, name, "pw").await)
    }
}

#[tokio::test]
async fn pm_to_unreachable_host_fails_promptly() {
    let hs = hosts(1, &[], "").await;
    let mut alice = hs[0].user("alice").await;
    let start = Instant::now();
    // 127.0.0.250: nothing listens on the shared port there.
    alice.send("/pm bob@127.0.0.250 hi").await;
    alice.expect("Failed to send private message to bob@127.0.0.250.").await;
    alice.send("/join_server lobby@127.0.0.250").await;
    alice.expect("Server does not exist.").await;
    assert!(start.elapsed() < Duration::from_secs(3), "took {:?}", start.elapsed());
    // The session still works.
    alice.send("/list_servers").await;
    alice.expect("Servers: general").await;
}

#[tokio::test]
async fn silent_peer_times_out_within_bounds() {
    let hs = hosts(1, &[], "request_timeout_ms = 800\n").await;
    let h = &hs[0];
    // Accepts connections and reads, but never answers.
    let silent = tokio::net::TcpListener::bind(format!("127.0.0.251:{}", h.addr.port())).await.unwrap();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let mut alice = h.user("alice").await;
    let start = Instant::now();
    alice.send("/pm bob@127.0.0.251 hello?").await;
    alice.expect("Failed to send private message to bob@127.0.0.251.").await;
    alice.send("/join_server lobby@127.0.0.251").await;
    alice.expect("Server does not exist.").await;
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(1500) && took < Duration::from_secs(4), "took {took:?}");
    hold.abort();
}

#[tokio::test]
async fn remote_room_join_chat_act_members_and_leave() {
    let hs = hosts(2, &[], "").await;
    let (h, v) = (&hs[0], &hs[1]);
    let mut alice = h.user("alice").await;
    alice.send("/create_server lobby").await;
    alice.expect("Server 'lobby' created successfully.").await;
    alice.join("lobby").await;

    let room = format!("lobby@{}", h.name);
    let mut bob = v.user("bob").await;
    bob.join(&room).await; // reply, then the home host's join event: "*** bob has joined the server."
    alice.expect(&format!("*** {} has joined the server.", v.at("bob"))).await;

    // Chat both ways; the sender's own sessions get the echo.
    bob.send("hello from afar").await;
    bob.expect("bob: hello from afar").await;
    alice.expect(&format!("{}: hello from afar", v.at("bob"))).await;
    alice.send("welcome").await;
    alice.expect("alice: welcome").await;
    bob.expect(&format!("{}: welcome", h.at("alice"))).await;

    bob.send("/act waves").await;
    bob.expect("*** bob waves").await;
    alice.expect(&format!("*** {} waves", v.at("bob"))).await;
    alice.send("/act bows").await;
    alice.expect("*** alice bows").await;
    bob.expect(&format!("*** {} bows", h.at("alice"))).await;
    bob.send("/act has joined the server.").await;
    bob.expect("This action is not allowed.").await;

    // /members on both sides, relative to each host.
    alice.send("/members").await;
    alice.expect(&format!("Members in 'lobby': alice, {}", v.at("bob"))).await;
    bob.send("/members").await;
    bob.expect(&format!("Members in '{room}': {}, bob", h.at("alice"))).await;

    // A second session of bob joins and leaves silently; the last one's leave crosses hosts.
    let mut bob2 = dmconnect_e2e::Client::login(v.addr, "bob", "pw").await;
    bob2.send(&format!("/join_server {room}")).await;
    bob2.expect(&format!("Joined server '{room}' successfully.")).await;
    // Marker: the next line alice gets is this chat line, not a join notice.
    bob.send("both of us").await;
    bob.expect("bob: both of us").await;
    bob2.expect("bob: both of us").await;
    alice.expect(&format!("{}: both of us", v.at("bob"))).await;
    drop(bob2);
    // A disconnect has no marker, and a wrong leave notice would read like the right one.
    alice.expect_nothing(300).await;
    drop(bob);
    alice.expect(&format!("*** {} has left the server.", v.at("bob"))).await;
    alice.send("/members").await;
    alice.expect("Members in 'lobby': alice").await;

    // Joins from the home side are seen by the visitors too.
    let mut carol = v.user("carol").await;
    carol.join(&room).await;
    alice.expect(&format!("*** {} has joined the server.", v.at("carol"))).await;
    let mut erin = h.user("erin").await;
    erin.join("lobby").await;
    alice.expect("*** erin has joined the server.").await;
    carol.expect(&format!("*** {} has joined the server.", h.at("erin"))).await;
    drop(erin);
    alice.expect("*** erin has left the server.").await;
    carol.expect(&format!("*** {} has left the server.", h.at("erin"))).await;

    // A subserver the home host does not have.
    let mut dan = v.user("dan").await;
    dan.send(&format!("/join_server nothere@{}", h.name)).await;
    dan.expect("Server does not exist.").await;
    dan.send("/join_server general").await;
    dan.expect("Joined server 'general' successfully.").await;
}

#[tokio::test]
async fn three_hosts_share_a_room() {
    let hs = hosts(3, &[], "").await;
    let (h, v1, v2) = (&hs[0], &hs[1], &hs[2]);
    let room = format!("general@{}", h.name);
    let mut alice = h.user("alice").await;
    alice.join("general").await;
    let mut bob = v1.user("bob").await;
    bob.join(&room).await;
    alice.expect(&format!("*** {} has joined the server.", v1.at("bob"))).await;
    let mut carol = v2.user("carol").await;
    carol.join(&room).await;
    alice.expect(&format!("*** {} has joined the server.", v2.at("carol"))).await;
    bob.expect(&format!("*** {} has joined the server.", v2.at("carol"))).await;

    bob.send("hi all").await;
    bob.expect("bob: hi all").await;
    alice.expect(&format!("{}: hi all", v1.at("bob"))).await;
    carol.expect(&format!("{}: hi all", v1.at("bob"))).await;

    carol.send("/act dances").await;
    carol.expect("*** carol dances").await;
    alice.expect(&format!("*** {} dances", v2.at("carol"))).await;
    bob.expect(&format!("*** {} dances", v2.at("carol"))).await;

    alice.send("home here").await;
    alice.expect("alice: home here").await;
    bob.expect(&format!("{}: home here", h.at("alice"))).await;
    carol.expect(&format!("{}: home here", h.at("alice"))).await;

    carol.send("/members").await;
    carol.expect(&format!("Members in '{room}': {}, {}, carol", h.at("alice"), v1.at("bob"))).await;

    // Order is kept per host (10 lines: within the default chat_burst).
    for i in 0..10 {
        bob.send(&format!("n{i}")).await;
    }
    for i in 0..10 {
        let want = format!("{}: n{i}", v1.at("bob"));
        alice.expect(&want).await;
        carol.expect(&want).await;
        bob.expect(&format!("bob: n{i}")).await;
    }

    drop(bob);
    alice.expect(&format!("*** {} has left the server.", v1.at("bob"))).await;
    carol.expect(&format!("*** {} has left the server.", v1.at("bob"))).await;
}

#[tokio::test]
async fn dead_peers_are_reported_and_their_members_removed() {
    let hs = hosts(3, &[], "liveness_interval_ms = 300\nping_failures = 2\n").await;
    let mut hs = hs.into_iter();
    let (h, mut v, mut h2) = (hs.next().unwrap(), hs.next().unwrap(), hs.next().unwrap());
    let mut alice = h.user("alice").await;
    alice.join("general").await;
    let mut bob = v.user("bob").await;
    bob.join(&format!("general@{}", h.name)).await;
    alice.expect(&format!("*** {} has joined the server.", v.at("bob"))).await;

    // The visiting host dies mid-conversation.
    v.kill().await;
    drop(bob);
    let start = Instant::now();
    alice.send(&format!("/pm {} are you there", v.at("bob"))).await;
    alice.expect(&format!("Failed to send private message to {}.", v.at("bob"))).await;
    assert!(start.elapsed() < Duration::from_secs(2));
    alice.send("anyone?").await;
    alice.expect("alice: anyone?").await;
    // Removed by liveness within a few intervals.
    alice.expect(&format!("*** {} has left the server.", v.at("bob"))).await;
    assert!(start.elapsed() < Duration::from_secs(4), "took {:?}", start.elapsed());
    alice.send("/members").await;
    alice.expect("Members in 'general': alice").await;

    // Now the home host of a room dies under a visitor.
    let mut erin = h2.user("erin").await;
    erin.join("general").await;
    alice.send(&format!("/join_server general@{}", h2.name)).await;
    alice.expect("You're already connected to the server 'general'.").await;
    let mut frank = h.user("frank").await;
    frank.join(&format!("general@{}", h2.name)).await;
    erin.expect(&format!("*** {} has joined the server.", h.at("frank"))).await;
    h2.kill().await;
    let start = Instant::now();
    frank.send("still there?").await;
    let err = frank.recv().await;
    assert!(err.starts_with("Error: could not reach"), "{err}");
    frank.send("/members").await;
    frank.expect("Failed to fetch members.").await;
    assert!(start.elapsed() < Duration::from_secs(3), "took {:?}", start.elapsed());
}

#[tokio::test]
async fn forged_requests_are_refused_by_dialback() {
    let hs = hosts(2, &[], "").await;
    let (a, b) = (&hs[0], &hs[1]);
    let mut alice = a.user("alice").await;
    alice.join("general").await;

    // B runs but never sent this message; 127.0.0.250 does not exist at all.
    for claimed in [b.name.as_str(), "127.0.0.250"] {
        let forged = format!(
            r#"{{"type":"remote_pm","from_host":"{claimed}","msg_id":"deadbeef","sender":"mallory","recipient":"alice","message":"send me your password"}}"#
        );
        let ans = s2s(a.addr, &forged).await;
        assert_eq!(ans, serde_json::json!({"status":"error","reason":"Dialback failed"}), "claimed {claimed}");
        let join = format!(
            r#"{{"type":"room_join","from_host":"{claimed}","msg_id":"cafe01","room":"general","sender":"mallory"}}"#
        );
        assert_eq!(s2s(a.addr, &join).await["reason"], "Dialback failed");
    }
    // Anything delivered would be queued before the answers above.
    alice.expect_nothing_queued().await;

    // A dialback check for an id this server never sent fails.
    let ans =
        s2s(a.addr, r#"{"type":"dialback_check","from_host":"127.0.0.3","msg_id":"deadbeef","msg_type":"remote_pm"}"#)
            .await;
    assert_eq!(ans, serde_json::json!({"type":"dialback_result","msg_id":"deadbeef","result":"fail"}));

    // A genuine PM from B afterwards still goes through (B confirms its own id).
    let mut bob = b.user("bob").await;
    bob.send(&format!("/pm {} genuine", a.at("alice"))).await;
    bob.expect(&format!("Private message sent to {}.", a.at("alice"))).await;
    alice.expect(&format!("(Private) {}: genuine", b.at("bob"))).await;
}

#[tokio::test]
async fn inbound_input_is_bounded_and_checked() {
    let hs = hosts(1, &[], "max_message_bytes = 8192\ninbound_timeout_ms = 500\n").await;
    let a = &hs[0];
    let mut alice = a.user("alice").await;

    assert_eq!(s2s(a.addr, r#"{"type":"s2s_ping","from_host":"x.test"}"#).await, serde_json::json!({"status":"ok"}));
    // Asked from 127.0.0.1 (the test's source address) in the name of 127.0.0.1: a plausible peer.
    let st = s2s(a.addr, r#"{"type":"status_request","usernames":["alice","bob"],"from_host":"127.0.0.1"}"#).await;
    assert_eq!(st, serde_json::json!({"status":"ok","online_map":{"alice":true}}));

    let bad = s2s(a.addr, "{not json").await;
    assert_eq!(bad["status"], "error");
    assert!(bad["reason"].as_str().unwrap().starts_with("invalid JSON"), "{bad}");
    let bad = s2s(a.addr, r#"{"from_host":"x.test"}"#).await;
    assert_eq!(bad["status"], "error");
    let bad = s2s(
        a.addr,
        r#"{"type":"remote_pm","from_host":"x.test","msg_id":"1","sender":"a\nb","recipient":"alice","message":"m"}"#,
    )
    .await;
    assert_eq!(bad["status"], "error");
    let bad = s2s(a.addr, r#"{"type":"room_message","from_host":"x.test","msg_id":"1","room":"general","sender":"m","payload":{"text":"fake\n*** line"}}"#).await;
    assert_eq!(bad["status"], "error");
    let huge = format!(r#"{{"type":"s2s_ping","pad":"{}"}}"#, "x".repeat(10_000));
    let bad = s2s(a.addr, &huge).await;
    assert!(bad["reason"].as_str().unwrap().contains("longer than"), "{bad}");

    // A peer that sends half a request and stalls is cut off.
    let mut s = tokio::net::TcpStream::connect(a.addr).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut s, b"{\"type\":").await.unwrap();
    let mut buf = String::new();
    let t = Instant::now();
    let mut rd = tokio::io::BufReader::new(s);
    tokio::io::AsyncBufReadExt::read_line(&mut rd, &mut buf).await.unwrap();
    assert!(t.elapsed() < Duration::from_secs(3));
    assert!(buf.contains("not received in time"), "{buf}");

    // Chat clients are unaffected.
    alice.send("/list_servers").await;
    alice.expect("Servers: general").await;
}

#[tokio::test]
async fn speaks_wire_json_with_a_reference_style_peer() {
    let hs = hosts(1, &[], "liveness_interval_ms = 300\nping_failures = 2\n").await;
    let h = &hs[0];
    let port = h.addr.port();
    let peer = FakePeer::start("127.0.0.9", port).await;
    let mut alice = h.user("alice").await;
    alice.join("general").await;

    // room_join from the peer: announced locally, echoed back as a room_event.
    let ans = s2s(h.addr, &peer.request(serde_json::json!({"type":"room_join","room":"general","sender":"zed"}))).await;
    assert_eq!(ans, serde_json::json!({"status":"ok"}));
    alice.expect("*** zed@127.0.0.9 has joined the server.").await;
    let check = peer.wait_for("dialback_check", |v| v["type"] == "dialback_check").await;
    assert_eq!(check["from_host"], h.name.as_str());
    assert_eq!(check["msg_type"], "room_join");
    let ev = peer.wait_for("joined event", |v| v["type"] == "room_event" && v["event"] == "joined").await;
    assert_eq!(ev["room"], "general");
    assert_eq!(ev["sender"], "zed");
    assert_eq!(ev["sender_origin"], "127.0.0.9");
    assert_eq!(ev["from_host"], h.name.as_str());
    assert!(ev["msg_id"].as_str().is_some_and(|s| !s.is_empty()));

    // Local chat fans out with the exact payloads.
    alice.send("hey zed").await;
    alice.expect("alice: hey zed").await;
    let ev = peer.wait_for("message event", |v| v["event"] == "message").await;
    assert_eq!(ev["payload"], serde_json::json!({"text":"hey zed"}));
    assert_eq!(ev["sender_origin"], h.name.as_str());
    alice.send("/act nods").await;
    alice.expect("*** alice nods").await;
    let ev = peer.wait_for("act event", |v| v["event"] == "act").await;
    assert_eq!(ev["payload"], serde_json::json!({"act":"nods"}));

    // room_message / room_act / members / leave from the peer.
    let r = s2s(
        h.addr,
        &peer.request(
            serde_json::json!({"type":"room_message","room":"general","sender":"zed","payload":{"text":"hello"}}),
        ),
    )
    .await;
    assert_eq!(r["status"], "ok");
    alice.expect("zed@127.0.0.9: hello").await;
    let r = s2s(
        h.addr,
        &peer.request(serde_json::json!({"type":"room_act","room":"general","sender":"zed","payload":{"act":"jumps"}})),
    )
    .await;
    assert_eq!(r["status"], "ok");
    alice.expect("*** zed@127.0.0.9 jumps").await;
    let r = s2s(h.addr, &peer.request(serde_json::json!({"type":"room_members_request","room":"general"}))).await;
    assert_eq!(
        r,
        serde_json::json!({"status":"ok","type":"room_members_response","room":"general","members":[
            {"username":"alice","origin":h.name},{"username":"zed","origin":"127.0.0.9"}]})
    );
    let r = s2s(
        h.addr,
        &peer.request(
            serde_json::json!({"type":"room_message","room":"general","sender":"nobody","payload":{"text":"x"}}),
        ),
    )
    .await;
    assert_eq!(r, serde_json::json!({"status":"error","reason":"not_in_room"}));
    let r = s2s(h.addr, &peer.request(serde_json::json!({"type":"room_join","room":"nothere","sender":"zed"}))).await;
    assert_eq!(r, serde_json::json!({"status":"error","reason":"no_such_room"}));
    let r =
        s2s(h.addr, &peer.request(serde_json::json!({"type":"room_leave","room":"general","sender":"nobody"}))).await;
    assert_eq!(r, serde_json::json!({"status":"error","reason":"not_in_room"}));

    // remote_pm from the peer.
    let r = s2s(
        h.addr,
        &peer.request(serde_json::json!({"type":"remote_pm","sender":"zed","recipient":"alice","message":"psst"})),
    )
    .await;
    assert_eq!(r, serde_json::json!({"status":"ok"}));
    alice.expect("(Private) zed@127.0.0.9: psst").await;
    let r = s2s(
        h.addr,
        &peer.request(serde_json::json!({"type":"remote_pm","sender":"zed","recipient":"ghost","message":"x"})),
    )
    .await;
    assert_eq!(r, serde_json::json!({"status":"error","reason":"user_not_found"}));

    // Liveness: pings, asks who is online, and removes members reported offline.
    peer.wait_for("s2s_ping", |v| v["type"] == "s2s_ping").await;
    let st = peer.wait_for("status_request", |v| v["type"] == "status_request").await;
    assert_eq!(st["usernames"], serde_json::json!(["zed"]));
    *peer.online.lock().unwrap() = false;
    alice.expect("*** zed@127.0.0.9 has left the server.").await;
    let left = peer.wait_for("left event", |v| v["event"] == "left").await;
    assert_eq!(left["sender"], "zed");
}

#[tokio::test]
async fn visiting_side_handles_reference_style_home_host() {
    // Our user visits a room on a peer; we check what we send and how its events are shown.
    let hs = hosts(1, &[], "").await;
    let v = &hs[0];
    let peer = FakePeer::start("127.0.0.9", v.addr.port()).await;
    let mut bob = v.user("bob").await;
    bob.send("/join_server den@127.0.0.9").await;
    bob.expect("Joined server 'den@127.0.0.9' successfully.").await;
    let join = peer.wait_for("room_join", |x| x["type"] == "room_join").await;
    assert_eq!(join["room"], "den");
    assert_eq!(join["sender"], "bob");
    assert_eq!(join["from_host"], v.name.as_str());
    // The peer confirms its event by dialback (it answers ok to everything, like the reference).
    let ev = |event: &str, sender: &str, origin: &str, payload: serde_json::Value| {
        peer.request(serde_json::json!({"type":"room_event","room":"den","event":event,"sender":sender,"sender_origin":origin,"payload":payload}))
    };
    assert_eq!(s2s(v.addr, &ev("joined", "bob", &v.name, serde_json::json!({}))).await["status"], "ok");
    bob.expect("*** bob has joined the server.").await;
    assert_eq!(
        s2s(v.addr, &ev("message", "zed", "127.0.0.9", serde_json::json!({"text":"hi bob"}))).await["status"],
        "ok"
    );
    bob.expect("zed@127.0.0.9: hi bob").await;
    assert_eq!(s2s(v.addr, &ev("act", "yan", "127.0.0.7", serde_json::json!({"act":"smiles"}))).await["status"], "ok");
    bob.expect("*** yan@127.0.0.7 smiles").await;
    // sender_origin missing: the reference falls back to from_host.
    let r = s2s(
        v.addr,
        &peer.request(serde_json::json!({"type":"room_event","room":"den","event":"left","sender":"zed","payload":{}})),
    )
    .await;
    assert_eq!(r["status"], "ok");
    bob.expect("*** zed@127.0.0.9 has left the server.").await;

    bob.send("ping pong").await;
    let m = peer.wait_for("room_message", |x| x["type"] == "room_message").await;
    assert_eq!(m["payload"], serde_json::json!({"text":"ping pong"}));
    bob.send("/act waves").await;
    let m = peer.wait_for("room_act", |x| x["type"] == "room_act").await;
    assert_eq!(m["payload"], serde_json::json!({"act":"waves"}));

    // Events for a room none of our users is in are answered not_in_room (stale member list).
    let r = s2s(v.addr, &peer.request(serde_json::json!({"type":"room_event","room":"other","event":"message","sender":"zed","sender_origin":"127.0.0.9","payload":{"text":"x"}}))).await;
    assert_eq!(r, serde_json::json!({"status":"error","reason":"not_in_room"}));

    drop(bob);
    let leave = peer.wait_for("room_leave", |x| x["type"] == "room_leave").await;
    assert_eq!(leave["room"], "den");
    assert_eq!(leave["sender"], "bob");
}

#[tokio::test]
async fn visitor_rejoins_after_home_host_restart() {
    let hs = hosts(2, &[], "").await;
    let mut hs = hs.into_iter();
    let (mut h, v) = (hs.next().unwrap(), hs.next().unwrap());
    let mut bob = v.user("bob").await;
    bob.join(&format!("general@{}", h.name)).await;
    h.kill().await;
    // The home host comes back with no memory of its visitors.
    let h = Host::start(&h.name.clone(), h.addr.port(), &[], "").await;
    let mut alice = h.user("alice").await;
    alice.join("general").await;
    bob.send("back?").await;
    bob.expect("*** bob has joined the server.").await;
    bob.expect("bob: back?").await;
    alice.expect(&format!("*** {} has joined the server.", v.at("bob"))).await;
    alice.expect(&format!("{}: back?", v.at("bob"))).await;
}

#[tokio::test]
async fn member_host_saying_not_in_room_clears_ghosts() {
    let hs = hosts(1, &[], "").await;
    let h = &hs[0];
    let peer = FakePeer::start("127.0.0.9", h.addr.port()).await;
    let mut alice = h.user("alice").await;
    alice.join("general").await;
    let r = s2s(h.addr, &peer.request(serde_json::json!({"type":"room_join","room":"general","sender":"zed"}))).await;
    assert_eq!(r["status"], "ok");
    alice.expect("*** zed@127.0.0.9 has joined the server.").await;
    // The join's echo is answered `ok` first (the fake peer records after choosing its answer).
    peer.wait_for("joined event", |v| v["type"] == "room_event" && v["event"] == "joined").await;
    // Its room_leave got lost; the next event tells us it has nobody in the room.
    peer.answers
        .lock()
        .unwrap()
        .insert("room_event".into(), serde_json::json!({"status":"error","reason":"not_in_room"}));
    alice.send("anyone from 127.0.0.9?").await;
    alice.expect("alice: anyone from 127.0.0.9?").await;
    alice.expect("*** zed@127.0.0.9 has left the server.").await;
    alice.send("/members").await;
    alice.expect("Members in 'general': alice").await;
}
