//! The compatibility promise: a plugin built against the first plugin-api
//! (0.1.0, commit c1a717a) loads and works in this server; one built against
//! another series is skipped with one clear line.

mod cap_support;

use cap_support::fixtures::echo_plugin;
use cap_support::require;
use dmconnect_e2e::{target_dir, Client, TestServer};

#[tokio::test]
async fn a_plugin_built_against_plugin_api_0_1_0_still_works() {
    require(&["status"]);
    let dir = echo_plugin("0.1.0");
    std::os::unix::fs::symlink(target_dir().join("libdmcap_status.so"), dir.join("libdmcap_status.so")).ok();
    let srv = TestServer::builder().plugin_dir(&dir).capabilities(&["status", "echo"]).start().await;
    let mut a = Client::login_new(srv.addr(), "alice", "pw").await;
    a.send("/list_capabilities").await;
    a.expect("Capabilities: status, echo. Use /CAPABILITY_NAME for help.").await;
    a.send("/echo").await;
    a.expect("/echo-say <text> - Say it back").await;
    a.expect("/echo-count - How often you echoed").await;
    a.join("general").await;
    a.send("a line in a room").await;
    a.expect("alice: a line in a room").await;
    a.send("/echo-say hi there").await;
    a.expect("echo: hi there").await;
    a.send("/echo-say").await;
    a.expect("Usage: /echo-say <text>").await;
    a.send("/echo-count").await;
    a.expect("You echoed 1 times.").await;
    a.send("/status-check alice").await;
    a.expect("alice is online.").await;
}

#[tokio::test]
async fn a_plugin_built_against_another_series_is_skipped_with_one_clear_line() {
    require(&["status"]);
    let dir = echo_plugin("0.2.0");
    std::os::unix::fs::symlink(target_dir().join("libdmcap_status.so"), dir.join("libdmcap_status.so")).ok();
    let srv = TestServer::builder().plugin_dir(&dir).capabilities(&["echo", "status"]).start().await;
    let mut a = Client::login_new(srv.addr(), "alice", "pw").await;
    a.send("/list_capabilities").await;
    a.expect("Capabilities: status. Use /CAPABILITY_NAME for help.").await;
    let logs = srv.logs();
    let line = logs.lines().find(|l| l.contains("capability echo skipped")).expect("a skip line");
    assert!(
        line.contains(
            "capability echo skipped: built against plugin-api 0.2.0, this server provides 0.1.x — rebuild it against 0.1.x"
        ),
        "{line}"
    );
    assert!(logs.lines().count() < 40 && !logs.contains("Compared"), "no layout report: {logs}");
}
