//! Capability commands through the real loader and the real `.so` files:
//! `/list_capabilities`, `/CAP` help, `/sessions-list`, `/http_file_upload-info`,
//! usage errors, and the example third-party plugin (docs/protocol.md §4, docs/capabilities.md).

mod cap_support;

use cap_support::{require, BoundClient, ALL};
use dmconnect_e2e::{Client, TestServer};

#[tokio::test]
async fn list_and_help_texts() {
    require(&ALL);
    let srv = TestServer::builder().capabilities(&ALL).start().await;
    let mut a = Client::login_new(srv.addr(), "alice", "pw").await;
    a.send("/list_capabilities").await;
    a.expect("Capabilities: status, ignore, sessions, http_file_upload. Use /CAPABILITY_NAME for help.").await;
    a.send("/status").await;
    a.expect_lines(&[
        "/status-check <username> - Check if a user is online or offline",
        "/status-sub-add <username> - Subscribe to status notifications",
        "/status-sub-del <username> - Unsubscribe from status notifications",
        "/status-sub-list - Show your subscription list",
        "/status-sub-clear - Clear your subscription list",
    ])
    .await;
    a.send("/ignore").await;
    a.expect_lines(&[
        "/ignore-add <username> - Ignore a user's messages",
        "/ignore-del <username> - Stop ignoring a user",
        "/ignore-list - Show your ignore list",
        "/ignore-clear - Clear your ignore list",
    ])
    .await;
    a.send("/sessions").await;
    a.expect("/sessions-list - Show the IPs of your active sessions").await;
    a.send("/http_file_upload").await;
    a.expect("/http_file_upload-info - Show how to upload and download files over HTTP").await;
    // Unknown commands of a loaded capability, and usage errors.
    a.send("/status-nope").await;
    a.expect("Unknown command.").await;
    a.send("/nosuchcap-list").await;
    a.expect("Unknown command.").await;
    a.send("/status-check").await;
    a.expect("Usage: /status-check <username>").await;
    a.send("/ignore-add").await;
    a.expect("Usage: /ignore-add <username>").await;
    a.send("/status-sub-del two words").await;
    a.expect("Usage: /status-sub-del <username>").await;
}

#[tokio::test]
async fn load_order_follows_the_config() {
    require(&["sessions", "status"]);
    let srv = TestServer::builder().capabilities(&["sessions", "status"]).start().await;
    let mut a = Client::login_new(srv.addr(), "alice", "pw").await;
    a.send("/list_capabilities").await;
    a.expect("Capabilities: sessions, status. Use /CAPABILITY_NAME for help.").await;
    a.send("/ignore").await;
    a.expect("Unknown command.").await;
}

#[tokio::test]
async fn no_capabilities() {
    let srv = TestServer::start().await;
    let mut a = Client::login_new(srv.addr(), "alice", "pw").await;
    a.send("/list_capabilities").await;
    a.expect("No capabilities available.").await;
    a.send("/status-check alice").await;
    a.expect("Unknown command.").await;
}

#[tokio::test]
async fn sessions_list_marks_the_caller() {
    require(&["sessions"]);
    let srv = TestServer::builder().capabilities(&["sessions"]).start().await;
    let mut a = Client::login_new(srv.addr(), "alice", "pw").await;
    a.send("/sessions-list").await;
    a.expect("Active session IPs: 127.0.0.1 (this is you)").await;
    // A second session of the same account from another loopback address.
    let mut other = BoundClient::login("127.0.0.2", srv.addr(), "alice", "pw").await;
    other.send("/sessions-list").await;
    assert_eq!(other.recv().await, "Active session IPs: 127.0.0.1, 127.0.0.2 (this is you)");
    a.send("/sessions-list").await;
    a.expect("Active session IPs: 127.0.0.1 (this is you), 127.0.0.2").await;
    // A third session from the same IP adds nothing: IPs are distinct.
    let _third = Client::login(srv.addr(), "alice", "pw").await;
    a.send("/sessions-list").await;
    a.expect("Active session IPs: 127.0.0.1 (this is you), 127.0.0.2").await;
}

#[tokio::test]
async fn upload_info_uses_host_port_and_config() {
    require(&["http_file_upload"]);
    let srv = TestServer::builder()
        .server_key("host", "\"chat.example.test\"")
        .capabilities(&["http_file_upload"])
        .toml("[capabilities.http_file_upload]\nmax_size = 1234\nttl_secs = 99\n")
        .start()
        .await;
    let port = srv.addr().port();
    let mut a = Client::login_new(srv.addr(), "alice", "pw").await;
    a.send("/http_file_upload-info").await;
    a.expect_lines(&[
        &format!("HTTP upload endpoint: http://chat.example.test:{port}/upload"),
        &format!("Download URL: http://chat.example.test:{port}/file/<id>/<filename>"),
        "Retention (TTL): 99 seconds.",
        "Max file size: 1234 bytes.",
    ])
    .await;

    let defaults = TestServer::builder().capabilities(&["http_file_upload"]).start().await;
    let mut b = Client::login_new(defaults.addr(), "bob", "pw").await;
    b.send("/http_file_upload-info").await;
    b.recv().await;
    b.recv().await;
    b.expect_lines(&["Retention (TTL): 86400 seconds.", "Max file size: 5242880 bytes."]).await;
}

#[tokio::test]
async fn example_dice_plugin_loads_and_keeps_its_state() {
    require(&["dice"]);
    let mut srv = TestServer::builder().capabilities(&["status", "dice"]).start().await;
    let mut a = Client::login_new(srv.addr(), "alice", "pw").await;
    a.send("/list_capabilities").await;
    a.expect("Capabilities: status, dice. Use /CAPABILITY_NAME for help.").await;
    a.send("/dice").await;
    a.expect_lines(&[
        "/dice-roll [NdM] - Roll dice (default 1d6)",
        "/dice-stats - Show how many dice you rolled, and their total",
    ])
    .await;
    a.send("/dice-stats").await;
    a.expect("You have not rolled any dice yet.").await;
    a.send("/dice-roll 0d6").await;
    a.expect("Usage: /dice-roll [NdM]").await;
    a.send("/dice-roll 2d6").await;
    let roll = a.recv().await;
    assert!(roll.starts_with("You roll 2d6: "), "{roll}");
    let sum: u64 = roll.rsplit(' ').next().and_then(|s| s.parse().ok()).expect("sum");
    assert!((2..=12).contains(&sum), "{roll}");
    drop(a);
    srv.restart().await;
    let mut a = Client::login(srv.addr(), "alice", "pw").await;
    a.send("/dice-stats").await;
    a.expect(&format!("You rolled 2 dice, {sum} pips in all.")).await;
    assert!(srv.logs().contains("dice is ready"), "the plugin's log line goes through the server's logger");
}
