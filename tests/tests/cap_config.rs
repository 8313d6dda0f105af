//! Capability configuration and plumbing: typos and wrong types point at the
//! user's file, several plugin directories, plugin panics go through the log.

mod cap_support;

use cap_support::fixtures::echo_plugin;
use cap_support::require;
use dmconnect_e2e::{server_binary, temp_dir, Client, TestServer};

#[tokio::test]
async fn typos_in_capabilities_are_refused_like_server_typos() {
    let dir = temp_dir("cfg");
    for (text, want) in [
        ("[capabilities]\nenable = [\"status\"]\n", "unknown key `enable` in [capabilities]"),
        ("[capabilities]\ncomand_timeout_ms = 100\n", "unknown key `comand_timeout_ms` in [capabilities]"),
    ] {
        let cfg = dir.join("bad.toml");
        std::fs::write(&cfg, text).expect("write");
        let out = std::process::Command::new(server_binary()).arg("check-config").arg(&cfg).output().expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(want), "{err}");
    }
}

#[tokio::test]
async fn a_wrong_type_names_the_table_and_the_key() {
    require(&["status", "http_file_upload"]);
    let srv = TestServer::builder()
        .capabilities(&["status", "http_file_upload"])
        .toml("[capabilities.http_file_upload]\nmax_size = \"big\"\n")
        .start()
        .await;
    let mut a = Client::login_new(srv.addr(), "alice", "pw").await;
    a.send("/list_capabilities").await;
    a.expect("Capabilities: status. Use /CAPABILITY_NAME for help.").await;
    let want = "capability http_file_upload skipped: init failed: \
                [capabilities.http_file_upload] max_size: expected an integer, found a string";
    assert!(srv.logs().contains(want), "{}", srv.logs());
}

#[tokio::test]
async fn plugins_are_found_in_extra_directories_then_the_bundled_one() {
    require(&["status"]);
    let extra = echo_plugin("0.1.0");
    let srv = TestServer::builder().capabilities(&["status", "echo"]).plugin_dirs_add(&extra).start().await;
    let mut a = Client::login_new(srv.addr(), "alice", "pw").await;
    a.send("/list_capabilities").await;
    a.expect("Capabilities: status, echo. Use /CAPABILITY_NAME for help.").await;
    a.send("/echo-say from elsewhere").await;
    a.expect("echo: from elsewhere").await;
}

#[tokio::test]
async fn plugin_panics_go_through_the_servers_log() {
    require(&["panicky"]);
    let srv = TestServer::builder().capabilities(&["panicky"]).start().await;
    let mut a = Client::login_new(srv.addr(), "alice", "pw").await;
    a.send("/panicky-boom").await;
    a.expect("Error: /panicky-boom failed inside the capability.").await;
    srv.wait_for_log("panicky went boom").await;
    let logs = srv.logs();
    let line = logs.lines().find(|l| l.contains("panicky went boom")).expect("the panic is logged");
    assert!(line.contains("ERROR") && line.contains("panicky"), "{line}");
    assert!(!logs.contains("thread '"), "no raw panic text on stderr:\n{logs}");
}
