//! The `history` capability end to end: the real server, the real
//! `libdmcap_history.so`, real sockets; a remote room across two hosts.

mod cap_support;
mod federation_support;

use cap_support::{history, require};
use dmconnect_e2e::{Client, TestServer};
use federation_support::hosts;

fn with_history(caps: &[&str], extra: &str) -> dmconnect_e2e::Builder {
    require(caps);
    TestServer::builder().capabilities(caps).toml(&format!("[capabilities.history]\n{extra}\n"))
}

#[tokio::test]
async fn records_local_rooms_and_answers_every_command() {
    let srv = with_history(&["status", "history"], "").start().await;
    let mut a = Client::login_new(srv.addr(), "alice", "pw").await;
    let mut b = Client::login_new(srv.addr(), "bob", "pw").await;
    a.send("/history").await;
    a.expect("/history-last [N] - Show the last N lines of your subserver (default 20, at most 200)").await;
    a.expect("/history-search <text> - Find lines of your subserver with all these words, newest first").await;
    a.expect("/history-since <time> - Show lines since 10m, 2h, 1d, HH:MM, YYYY-MM-DD [HH:MM] (UTC) or Unix seconds")
        .await;
    assert_eq!(history(&mut a, "/history-last").await, ["You are not in a subserver."]);
    a.join("general").await;
    assert_eq!(history(&mut a, "/history-last").await, ["*** alice has joined the server.", "End of history."]);
    b.join("general").await;
    a.expect("*** bob has joined the server.").await;
    a.send("hello there").await;
    a.expect("alice: hello there").await;
    b.expect("alice: hello there").await;
    a.send("/act waves").await;
    a.expect("*** alice waves").await;
    b.expect("*** alice waves").await;
    b.send("/pm alice a private word").await;
    b.expect("Private message sent to alice.").await;
    a.expect("(Private) bob: a private word").await;
    drop(b);
    a.expect("*** bob has left the server.").await;
    let all = [
        "*** alice has joined the server.",
        "*** bob has joined the server.",
        "alice: hello there",
        "*** alice waves",
        "*** bob has left the server.",
        "End of history.",
    ];
    assert_eq!(history(&mut a, "/history-last").await, all);
    assert_eq!(history(&mut a, "/history-last 2").await, all[3..]);
    assert_eq!(history(&mut a, "/history-since 10m").await, all);
    assert_eq!(history(&mut a, "/history-since 2000-01-01").await, all);
    assert_eq!(history(&mut a, "/history-since 2999-01-01 00:00").await, ["No history."]);
    assert_eq!(history(&mut a, "/history-search HELLO").await, ["alice: hello there", "End of history."]);
    assert_eq!(history(&mut a, "/history-search private").await, ["No history."], "PMs are never recorded");
    assert_eq!(history(&mut a, "/history-search \" OR (").await, ["No history."]);
    a.send("/history-last 201").await;
    a.expect("Usage: /history-last [N]").await;
    a.send("/history-since someday").await;
    a.expect("Usage: /history-since <time>").await;
    a.send(&format!("/history-search {}", "x".repeat(201))).await;
    a.expect("Usage: /history-search <text>").await;
    // Only the default list is unchanged for existing users: history is opt-in.
    a.send("/list_capabilities").await;
    a.expect("Capabilities: status, history. Use /CAPABILITY_NAME for help.").await;
}

#[tokio::test]
async fn keeps_at_most_max_lines_per_room_and_survives_a_restart() {
    let mut srv = with_history(&["history"], "max_lines_per_room = 3").start().await;
    let mut a = Client::login_new(srv.addr(), "alice", "pw").await;
    a.join("general").await;
    for i in 1..=5 {
        a.send(&format!("line {i}")).await;
        a.expect(&format!("alice: line {i}")).await;
    }
    let want = ["alice: line 3", "alice: line 4", "alice: line 5", "End of history."];
    assert_eq!(history(&mut a, "/history-last 50").await, want);
    drop(a);
    srv.restart().await;
    let mut a = Client::login_new(srv.addr(), "alice2", "pw").await;
    a.send("/join_server general").await;
    a.expect("Joined server 'general' successfully.").await;
    a.expect("*** alice2 has joined the server.").await;
    let got = history(&mut a, "/history-last 50").await;
    let want =
        ["alice: line 5", "*** alice has left the server.", "*** alice2 has joined the server.", "End of history."];
    assert_eq!(got, want);
}

#[tokio::test]
async fn ignored_users_are_left_out_and_joins_replay() {
    let srv = with_history(&["ignore", "history"], "replay_on_join = 2").start().await;
    let mut bob = Client::login_new(srv.addr(), "bob", "pw").await;
    let mut carol = Client::login_new(srv.addr(), "carol", "pw").await;
    carol.join("general").await;
    carol.send("carol speaks").await;
    carol.expect("carol: carol speaks").await;
    bob.send("/ignore-add carol").await;
    bob.recv().await;
    // Replay: the last 2 lines the joiner may see, before anything new.
    bob.send("/join_server general").await;
    bob.expect("Joined server 'general' successfully.").await;
    bob.expect("*** bob has joined the server.").await;
    let replay = history(&mut bob, "/history-last").await;
    assert_eq!(replay, ["*** bob has joined the server.", "End of history."], "carol's lines are filtered");
    let mut dave = Client::login_new(srv.addr(), "dave", "pw").await;
    dave.send("/join_server general").await;
    dave.expect("Joined server 'general' successfully.").await;
    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(dave.recv().await);
    }
    let texts: Vec<&str> = seen.iter().map(|l| l.split_once("] ").map_or(l.as_str(), |(_, t)| t)).collect();
    assert!(texts.contains(&"carol: carol speaks") && texts.contains(&"End of history."), "{seen:?}");
    assert!(texts.contains(&"*** dave has joined the server."), "{seen:?}");
}

#[tokio::test]
async fn remote_rooms_are_asked_of_their_home_host() {
    require(&["history"]);
    let hs = hosts(2, &["history"], "").await;
    let (h, v) = (&hs[0], &hs[1]);
    let mut alice = h.user("alice").await;
    alice.join("general").await;
    alice.send("hello from home").await;
    alice.expect("alice: hello from home").await;
    let room = format!("general@{}", h.name);
    let mut bob = v.user("bob").await;
    bob.join(&room).await;
    alice.expect(&format!("*** {} has joined the server.", v.at("bob"))).await;
    bob.send("hi from afar").await;
    bob.expect("bob: hi from afar").await;
    alice.expect(&format!("{}: hi from afar", v.at("bob"))).await;
    let want =
        ["*** bob has joined the server.".to_owned(), "bob: hi from afar".to_owned(), "End of history.".to_owned()];
    assert_eq!(history(&mut bob, "/history-last 2").await, want);
    let found = history(&mut bob, "/history-search home").await;
    assert_eq!(found, [format!("{}: hello from home", h.at("alice")), "End of history.".into()]);
}

/// A home host without history answers `unknown_type`: the user gets one clear line.
#[tokio::test]
async fn a_home_host_without_history_gives_a_clear_line() {
    require(&["history"]);
    let ips = ["127.0.0.6", "127.0.0.7"];
    let port = federation_support::free_port(&ips);
    let home = federation_support::Host::start(ips[0], port, &[], "").await;
    let here = federation_support::Host::start(ips[1], port, &["history"], "").await;
    let mut alice = home.user("alice").await;
    alice.join("general").await;
    let mut bob = here.user("bob").await;
    let room = format!("general@{}", home.name);
    bob.join(&room).await;
    assert_eq!(history(&mut bob, "/history-last").await, [format!("History is not available for {room}.")]);
}
