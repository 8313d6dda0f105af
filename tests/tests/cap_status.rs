//! The status capability on one host (docs/capabilities.md): texts, notifications on an
//! account's first login and last logout, persistence across a restart.
//! Remote targets are covered in federation_status.rs.

mod cap_support;

use cap_support::{require, until};
use dmconnect_e2e::{Client, TestServer};

#[tokio::test]
async fn status_texts() {
    require(&["status"]);
    let srv = TestServer::builder().capabilities(&["status"]).start().await;
    drop(Client::login_new(srv.addr(), "bob", "pw").await);
    let mut a = Client::login_new(srv.addr(), "alice", "pw").await;
    until(&mut a, "/status-check bob", "bob is offline.").await;
    a.send("/status-check alice").await;
    a.expect("alice is online.").await;
    // Not in the protocol: an unknown local account gets the same answer as /pm.
    a.send("/status-check nobody").await;
    a.expect("User does not exist.").await;
    a.send("/status-sub-list").await;
    a.expect("Subscriptions list is empty.").await;
    a.send("/status-sub-add alice").await;
    a.expect("You cannot subscribe to yourself.").await;
    a.send("/status-sub-add nobody").await;
    a.expect("User does not exist.").await;
    a.send("/status-sub-add bob").await;
    a.expect("Subscribed to bob.").await;
    a.send("/status-sub-add bob").await;
    a.expect("Already subscribed to bob.").await;
    a.send("/status-sub-list").await;
    a.expect("Subscriptions list: bob").await;
    a.send("/status-sub-del carol").await;
    a.expect("Not subscribed to carol.").await;
    a.send("/status-sub-del bob").await;
    a.expect("Unsubscribed from bob.").await;
    a.send("/status-sub-clear").await;
    a.expect("Subscriptions cleared.").await;
    a.send("/status-check").await;
    a.expect("Usage: /status-check <username>").await;
    a.send("/status-sub-add").await;
    a.expect("Usage: /status-sub-add <username>").await;
}

#[tokio::test]
async fn subscribers_hear_first_login_and_last_logout_across_restarts() {
    require(&["status"]);
    let mut srv = TestServer::builder().capabilities(&["status"]).start().await;
    drop(Client::login_new(srv.addr(), "bob", "pw").await);
    drop(Client::login_new(srv.addr(), "carol", "pw").await);
    let mut alice = Client::login_new(srv.addr(), "alice", "pw").await;
    until(&mut alice, "/status-check bob", "bob is offline.").await;
    until(&mut alice, "/status-check carol", "carol is offline.").await;
    alice.send("/status-sub-add bob").await;
    alice.expect("Subscribed to bob.").await;
    alice.send("/status-sub-add carol").await;
    alice.expect("Subscribed to carol.").await;

    let bob1 = Client::login(srv.addr(), "bob", "pw").await;
    alice.expect("bob is online.").await;
    // A second session is not a new login, and losing one of two is not a logout.
    let bob2 = Client::login(srv.addr(), "bob", "pw").await;
    drop(bob1);
    alice.send("/status-check bob").await;
    alice.expect("bob is online.").await;
    drop(bob2);
    alice.expect("bob is offline.").await;

    // After a restart the subscriptions are still there and still notify.
    drop(alice);
    srv.restart().await;
    let mut alice = Client::login(srv.addr(), "alice", "pw").await;
    alice.send("/status-sub-list").await;
    alice.expect("Subscriptions list: bob, carol").await;
    let carol = Client::login(srv.addr(), "carol", "pw").await;
    alice.expect("carol is online.").await;
    drop(carol);
    alice.expect("carol is offline.").await;
    // Unsubscribed: silence.
    alice.send("/status-sub-del carol").await;
    alice.expect("Unsubscribed from carol.").await;
    let _carol = Client::login(srv.addr(), "carol", "pw").await;
    alice.expect_nothing_queued().await;
}
