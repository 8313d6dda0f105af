//! Atomic storage: two sessions of one account racing 50 dice rolls each
//! lose none (the example keeps its tally with `kv_increment`).

mod cap_support;

use cap_support::require;
use dmconnect_e2e::{Client, TestServer};

async fn roll_50(mut c: Client) -> u64 {
    // Both sessions roll at the same time, so their increments interleave in the plugin.
    let mut pips = 0;
    for _ in 0..50 {
        c.send("/dice-roll").await;
        let line = c.recv().await;
        assert!(line.starts_with("You roll 1d6: "), "{line}");
        pips += line.rsplit(' ').next().and_then(|s| s.parse::<u64>().ok()).expect("sum");
    }
    pips
}

#[tokio::test]
async fn two_sessions_racing_increments_lose_nothing() {
    require(&["dice"]);
    let srv = TestServer::builder().capabilities(&["dice"]).start().await;
    let first = Client::login_new(srv.addr(), "alice", "pw").await;
    let second = Client::login(srv.addr(), "alice", "pw").await;
    let (a, b) = tokio::join!(roll_50(first), roll_50(second));
    let mut c = Client::login(srv.addr(), "alice", "pw").await;
    c.send("/dice-stats").await;
    c.expect(&format!("You rolled 100 dice, {} pips in all.", a + b)).await;
}
