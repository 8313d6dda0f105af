//! The plugin loader and the boundary: bad files are skipped with one clear
//! log line while the others load; a panicking or slow plugin leaves the
//! server serving; `dmconnect capabilities` describes a plugin directory.

mod cap_support;

use cap_support::{plugin_dir, require};
use dmconnect_e2e::{server_binary, target_dir, Client, TestServer};
use std::time::{Duration, Instant};

#[tokio::test]
async fn bad_files_are_skipped_and_the_rest_load() {
    require(&["status", "sessions", "dice"]);
    let dir = plugin_dir(&["status", "sessions", "dice"]);
    std::fs::write(dir.join("libdmcap_bogus.so"), b"\x7fELF but not really a library").expect("write");
    // A real plugin under another name.
    std::fs::copy(target_dir().join("libdmcap_sessions.so"), dir.join("libdmcap_renamed.so")).expect("copy");
    let srv = TestServer::builder()
        .plugin_dir(&dir)
        .capabilities(&["status", "bogus", "missing", "renamed", "sessions", "dice"])
        .start()
        .await;
    let mut a = Client::login_new(srv.addr(), "alice", "pw").await;
    a.send("/list_capabilities").await;
    a.expect("Capabilities: status, sessions, dice. Use /CAPABILITY_NAME for help.").await;
    a.send("/sessions-list").await;
    a.expect("Active session IPs: 127.0.0.1 (this is you)").await;

    let logs = srv.logs();
    let line = |needle: &str| logs.lines().find(|l| l.contains(needle)).map(str::to_owned);
    let bogus = line("capability bogus skipped").expect("a log line for the bogus file");
    assert!(
        bogus.contains("WARN")
            && bogus.contains("libdmcap_bogus.so")
            && bogus.contains("not a DMconnect capability plugin"),
        "{bogus}"
    );
    let missing = line("capability missing skipped").expect("a log line for the missing file");
    assert!(missing.contains("libdmcap_missing.so") && missing.contains("file not found"), "{missing}");
    let renamed = line("capability renamed skipped").expect("a log line for the misnamed plugin");
    assert!(renamed.contains("calls itself \"sessions\""), "{renamed}");
    assert_eq!(logs.matches("capability bogus skipped").count(), 1, "one line per skipped file");
    assert!(line("capability dice loaded").is_some(), "{logs}");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn panics_and_slow_commands_leave_the_server_serving() {
    require(&["panicky", "status"]);
    let srv =
        TestServer::builder().capabilities(&["panicky", "status"]).toml("command_timeout_ms = 1000\n").start().await;
    let mut alice = Client::login_new(srv.addr(), "alice", "pw").await;
    let mut bob = Client::login_new(srv.addr(), "bob", "pw").await;
    bob.join("general").await;

    alice.send("/panicky-boom").await;
    alice.expect("Error: /panicky-boom failed inside the capability.").await;
    alice.send("/panicky-ok").await;
    alice.expect("Still here.").await;
    assert!(srv.logs().contains("panicky went boom"), "the panic is logged");

    // A stuck command answers with a timeout; meanwhile other sessions are not held up.
    let started = Instant::now();
    alice.send("/panicky-slow 5000").await;
    bob.send("still chatting").await;
    bob.expect("bob: still chatting").await;
    assert!(alice.try_recv(Duration::from_millis(1)).await.is_none(), "chat was delivered while the plugin still ran");
    alice.expect("Error: /panicky-slow did not answer in time.").await;
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(1000) && waited < Duration::from_millis(4000), "{waited:?}");
    // The session that ran it works again at once, other capabilities too.
    alice.send("/status-check bob").await;
    alice.expect("bob is online.").await;
    alice.send("/panicky-ok").await;
    alice.expect("Still here.").await;
}

#[tokio::test]
async fn the_capabilities_command_describes_a_directory() {
    require(&["status", "ignore"]);
    let dir = plugin_dir(&["status", "ignore"]);
    std::fs::write(dir.join("libdmcap_bogus.so"), b"not a library").expect("write");
    let cfg = dir.join("describe.toml");
    std::fs::write(&cfg, format!("[capabilities]\ndir = {:?}\n", dir.to_string_lossy())).expect("write");
    let out = std::process::Command::new(server_binary())
        .arg("capabilities")
        .arg("--config")
        .arg(&cfg)
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let line = |file: &str| text.lines().find(|l| l.starts_with(file)).map(str::to_owned).unwrap_or_default();
    let version = env!("CARGO_PKG_VERSION");
    let api = "plugin-api 0.1.3";
    assert_eq!(line("libdmcap_status.so"), format!("libdmcap_status.so  status  {version}  {api}  starts"));
    assert_eq!(line("libdmcap_ignore.so"), format!("libdmcap_ignore.so  ignore  {version}  {api}  starts"));
    assert!(
        line("libdmcap_bogus.so")
            .starts_with("libdmcap_bogus.so  -  -  would not load: not a DMconnect capability plugin"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
