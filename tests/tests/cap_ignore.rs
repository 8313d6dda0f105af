//! The ignore capability (docs/capabilities.md): texts, filtering of chat, actions,
//! join/leave notices and private messages, and persistence across a restart.

mod cap_support;

use cap_support::require;
use dmconnect_e2e::{Client, TestServer};

#[tokio::test]
async fn ignore_texts() {
    require(&["ignore"]);
    let srv = TestServer::builder().capabilities(&["ignore"]).start().await;
    let mut a = Client::login_new(srv.addr(), "alice", "pw").await;
    a.send("/ignore-list").await;
    a.expect("Ignore list is empty.").await;
    a.send("/ignore-clear").await;
    a.expect("Ignore list is already empty.").await;
    a.send("/ignore-add bob").await;
    a.expect("Ignoring bob.").await;
    a.send("/ignore-add carol").await;
    a.expect("Ignoring carol.").await;
    a.send("/ignore-list").await;
    a.expect("Ignore list: bob, carol").await;
    a.send("/ignore-del dave").await;
    a.expect("dave is not in your ignore list.").await;
    a.send("/ignore-del bob").await;
    a.expect("Stopped ignoring bob.").await;
    a.send("/ignore-list").await;
    a.expect("Ignore list: carol").await;
    a.send("/ignore-clear").await;
    a.expect("Ignore list cleared.").await;
    a.send("/ignore-list").await;
    a.expect("Ignore list is empty.").await;
    a.send("/ignore-del").await;
    a.expect("Usage: /ignore-del <username>").await;
}

#[tokio::test]
async fn ignored_users_are_not_delivered_and_lists_persist() {
    require(&["ignore"]);
    let mut srv = TestServer::builder().capabilities(&["ignore"]).start().await;
    let mut alice = Client::login_new(srv.addr(), "alice", "pw").await;
    let mut bob = Client::login_new(srv.addr(), "bob", "pw").await;
    let mut carol = Client::login_new(srv.addr(), "carol", "pw").await;
    alice.send("/ignore-add bob").await;
    alice.expect("Ignoring bob.").await;
    alice.join("general").await;

    // bob's join notice is hidden from alice; carol's (sent after it) is what alice sees next.
    bob.join("general").await;
    carol.send("/join_server general").await;
    carol.expect("Joined server 'general' successfully.").await;
    carol.expect("*** carol has joined the server.").await;
    alice.expect("*** carol has joined the server.").await;
    bob.expect("*** carol has joined the server.").await;

    // Chat and actions from bob: everyone else sees them, alice does not.
    bob.send("hello all").await;
    bob.expect("bob: hello all").await;
    carol.expect("bob: hello all").await;
    bob.send("/act waves").await;
    bob.expect("*** bob waves").await;
    carol.expect("*** bob waves").await;
    // A private message: the sender is told it was sent, alice never gets it.
    bob.send("/pm alice psst").await;
    bob.expect("Private message sent to alice.").await;
    carol.send("marker one").await;
    carol.expect("carol: marker one").await;
    alice.expect("carol: marker one").await;

    // bob's leave notice is hidden too.
    drop(bob);
    carol.expect("*** bob has left the server.").await;
    carol.send("marker two").await;
    carol.expect("carol: marker two").await;
    alice.expect("carol: marker two").await;
    alice.expect_nothing_queued().await;

    // The list survives a restart and still filters.
    drop((alice, carol));
    srv.restart().await;
    let mut alice = Client::login(srv.addr(), "alice", "pw").await;
    alice.send("/ignore-list").await;
    alice.expect("Ignore list: bob").await;
    let mut bob = Client::login(srv.addr(), "bob", "pw").await;
    bob.send("/pm alice still there?").await;
    bob.expect("Private message sent to alice.").await;
    alice.expect_nothing_queued().await;
    alice.send("/ignore-del bob").await;
    alice.expect("Stopped ignoring bob.").await;
    bob.send("/pm alice now?").await;
    bob.expect("Private message sent to alice.").await;
    alice.expect("(Private) bob: now?").await;
}
