//! Persistence across restarts and crashes, slow readers, limits.

use dmconnect_e2e::{Client, TestServer, GREETING};
use std::time::{Duration, Instant};

#[tokio::test]
async fn accounts_and_servers_survive_a_restart() {
    let mut srv = TestServer::start().await;
    let mut a = Client::login_new(srv.addr(), "alice", "pw").await;
    a.send("/create_server lounge").await;
    a.expect("Server 'lounge' created successfully.").await;
    drop(a);
    srv.stop().await;
    srv.restart().await;
    let mut a = Client::login(srv.addr(), "alice", "pw").await;
    a.send("/list_servers").await;
    a.expect("Servers: general, lounge").await;
}

#[tokio::test]
async fn kill_9_right_after_the_reply_loses_nothing() {
    let mut srv = TestServer::start().await;
    let mut c = Client::connect(srv.addr()).await;
    c.expect(GREETING).await;
    c.send("/register zed pw").await;
    c.expect("Registration successful. Please log in.").await;
    c.expect(GREETING).await;
    c.send("/login zed pw").await;
    c.expect("Login successful.").await;
    c.recv().await;
    c.recv().await;
    c.send("/create_server crashproof").await;
    c.expect("Server 'crashproof' created successfully.").await;
    srv.kill().await;
    srv.restart().await;
    let mut c = Client::login(srv.addr(), "zed", "pw").await;
    c.send("/list_servers").await;
    c.expect("Servers: general, crashproof").await;
}

#[tokio::test]
async fn a_client_that_never_reads_does_not_slow_the_room() {
    let srv = TestServer::builder()
        .toml("[limits]\noutbound_queue_messages = 2000\noutbound_queue_bytes = 131072\nchat_lines_per_sec = 0")
        .start()
        .await;
    let addr = srv.addr();
    let mut sleeper = Client::login_new(addr, "sleeper", "pw").await;
    sleeper.join("general").await;
    // From here on `sleeper` never reads.
    let mut talker = Client::login_new(addr, "talker", "pw").await;
    talker.join("general").await;
    let mut listener = Client::login_new(addr, "listener", "pw").await;
    listener.join("general").await;
    talker.expect("*** listener has joined the server.").await;

    let line = "x".repeat(4000);
    let started = Instant::now();
    for i in 0..3000 {
        talker.send(&format!("{i} {line}")).await;
        talker.recv().await;
        if i % 500 == 0 {
            // The room keeps flowing while the sleeper's queue fills up.
            let t = Instant::now();
            loop {
                let got = listener.recv().await;
                if got.starts_with(&format!("talker: {i} ")) {
                    break;
                }
            }
            assert!(t.elapsed() < Duration::from_secs(2), "delivery stalled: {:?}", t.elapsed());
        }
    }
    srv.wait_for_log("outbound queue full").await;
    assert!(started.elapsed() < Duration::from_secs(60));
    // The sleeper was disconnected; the others still talk.
    listener.send("after").await;
    loop {
        let got = listener.recv().await;
        if got == "listener: after" {
            break;
        }
    }
    assert!(sleeper.closed_within(5000).await);
}

#[tokio::test]
async fn per_ip_limit_and_idle_timeout() {
    let srv = TestServer::builder().toml("[limits]\nmax_connections_per_ip = 2\nidle_timeout_secs = 1").start().await;
    let mut c1 = Client::connect(srv.addr()).await;
    c1.expect(GREETING).await;
    let mut c2 = Client::connect(srv.addr()).await;
    c2.expect(GREETING).await;
    let mut c3 = Client::connect(srv.addr()).await;
    assert!(c3.closed_within(1000).await, "third connection from one IP was accepted");
    // Keep c2 alive with pings; c1 stays silent and is closed.
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        c2.send("/").await;
        c2.expect("*Ping*").await;
    }
    assert!(c1.closed_within(1000).await, "idle session was not closed");
    srv.wait_for_log("idle timeout").await;
}

#[tokio::test]
async fn cli_user_add_list_and_check_config() {
    let srv = TestServer::start().await;
    let bin = dmconnect_e2e::server_binary();
    let dir = dmconnect_e2e::temp_dir("cli");
    let cfg = dir.join("c.toml");
    std::fs::write(
        &cfg,
        format!(
            "[server]\ndata_dir = {:?}\n[auth]\nargon2_memory_kib = 1024\nargon2_iterations = 1\n",
            dir.join("data").to_string_lossy()
        ),
    )
    .unwrap();
    let mut child = std::process::Command::new(&bin)
        .args(["user", "add", "opal", "--create", "--config"])
        .arg(&cfg)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"s3cret\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = std::process::Command::new(&bin).args(["user", "list", "--config"]).arg(&cfg).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "opal\n");
    let out = std::process::Command::new(&bin).args(["check-config"]).arg(&cfg).output().unwrap();
    assert!(out.status.success());
    std::fs::write(&cfg, "[server]\nlisten = \"nonsense\"\n").unwrap();
    let out = std::process::Command::new(&bin).args(["check-config"]).arg(&cfg).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an address"));
    drop(srv);
}

#[tokio::test]
async fn sigterm_tells_sessions_and_exits_cleanly() {
    let mut srv = TestServer::start().await;
    let mut a = Client::login_new(srv.addr(), "alice", "pw").await;
    a.join("general").await;
    let mut pre = Client::connect(srv.addr()).await;
    pre.expect(GREETING).await;
    srv.stop().await; // asserts a zero exit status
    a.expect("Server is shutting down.").await;
    assert!(a.closed_within(1000).await);
    pre.expect("Server is shutting down.").await;
    assert!(pre.closed_within(1000).await);
    assert!(srv.logs().contains("stopped"));
}
