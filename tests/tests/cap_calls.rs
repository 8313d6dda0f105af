//! A slow capability does not hold up its caller's chat; capability replies
//! keep their order; a session has at most a few calls in flight.

mod cap_support;

use cap_support::require;
use dmconnect_e2e::{Client, TestServer};
use std::time::{Duration, Instant};

#[tokio::test]
async fn chat_flows_while_a_capability_works_and_replies_keep_their_order() {
    require(&["panicky"]);
    let srv = TestServer::builder().capabilities(&["panicky"]).start().await;
    let mut a = Client::login_new(srv.addr(), "alice", "pw").await;
    a.join("general").await;
    let started = Instant::now();
    a.send("/panicky-slow 1500").await;
    a.send("/panicky-ok").await;
    a.send("still chatting").await;
    a.expect("alice: still chatting").await;
    assert!(started.elapsed() < Duration::from_millis(1000), "chat waited for the plugin");
    a.expect("Done after 1500 ms.").await;
    a.expect("Still here.").await;
    a.send("/panicky-nothing").await;
    a.expect("Unknown command.").await;
}

#[tokio::test]
async fn at_most_four_calls_wait_per_session() {
    require(&["panicky"]);
    let srv = TestServer::builder().capabilities(&["panicky"]).start().await;
    let mut a = Client::login_new(srv.addr(), "alice", "pw").await;
    for _ in 0..4 {
        a.send("/panicky-slow 700").await;
    }
    a.send("/panicky-ok").await;
    a.expect("Error: too many capability commands in progress; try again when they answer.").await;
    for _ in 0..4 {
        a.expect("Done after 700 ms.").await;
    }
    a.send("/panicky-ok").await;
    a.expect("Still here.").await;
}
