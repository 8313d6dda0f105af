//! Reload without restart: SIGHUP and `dmconnect reload` swap the TLS certificate
//! for new connections while open TLS sessions keep chatting; admins change live;
//! a bad config is refused and the old one keeps running.

use dmconnect_e2e::{Client, TestServer};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

/// Writes a fresh self-signed certificate for "localhost" to `cert`/`key`; returns its DER.
fn write_pair(cert: &Path, key: &Path) -> CertificateDer<'static> {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    std::fs::write(cert, made.cert.pem()).unwrap();
    std::fs::write(key, made.key_pair.serialize_pem()).unwrap();
    made.cert.der().clone()
}

/// A TLS line client trusting `roots`; remembers the certificate the server showed.
struct TlsClient {
    io: BufReader<TlsStream<TcpStream>>,
    seen: CertificateDer<'static>,
}

impl TlsClient {
    async fn connect(addr: SocketAddr, roots: &[CertificateDer<'static>]) -> Self {
        let mut store = RootCertStore::empty();
        for r in roots {
            store.add(r.clone()).unwrap();
        }
        let config = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(store)
            .with_no_client_auth();
        let tcp = TcpStream::connect(addr).await.unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        let tls = TlsConnector::from(Arc::new(config)).connect(name, tcp).await.expect("TLS handshake");
        let seen = tls.get_ref().1.peer_certificates().unwrap()[0].clone().into_owned();
        Self { io: BufReader::new(tls), seen }
    }

    async fn send(&mut self, line: &str) {
        self.io.get_mut().write_all(format!("{line}\r\n").as_bytes()).await.unwrap();
        self.io.get_mut().flush().await.unwrap();
    }

    async fn expect(&mut self, want: &str) {
        let mut line = String::new();
        let read = self.io.read_line(&mut line);
        tokio::time::timeout(Duration::from_secs(5), read).await.expect("no line within 5 s").unwrap();
        assert_eq!(line.trim_end_matches('\n'), want);
    }
}

fn hup(srv: &TestServer) {
    let status = std::process::Command::new("kill").arg("-HUP").arg(srv.pid().to_string()).status().unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn sighup_swaps_the_certificate_and_open_tls_sessions_keep_going() {
    let dir = dmconnect_e2e::temp_dir("reload-tls");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let first = write_pair(&cert, &key);
    let srv = TestServer::builder().tls(&cert, &key).start().await;
    let addr = srv.tls_addr().unwrap();
    Client::login_new(srv.addr(), "alice", "pw").await;
    let mut old = TlsClient::connect(addr, std::slice::from_ref(&first)).await;
    old.expect(dmconnect_e2e::GREETING).await;
    old.send("/login alice pw").await;
    old.expect("Login successful.").await;

    let second = write_pair(&cert, &key);
    hup(&srv);
    srv.wait_for_log("TLS certificate reloaded").await;
    let both = [first.clone(), second.clone()];
    let fresh = TlsClient::connect(addr, &both).await;
    assert!(fresh.seen == second, "a new connection still gets the old certificate");
    assert!(old.seen == first);
    old.expect("Available servers: general").await;
    old.expect("Select a server using /join_server <server_name>.").await;
    old.send("/list_servers").await;
    old.expect("Servers: general").await;

    // A certificate that cannot be read: refused, reported to `dmconnect reload`, old one kept.
    let cfg = srv.config_path();
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(&cfg, text.replace("cert.pem", "missing.pem")).unwrap();
    let bad = srv.cli_result(&["reload"], "");
    assert!(
        !bad.ok && bad.stderr.starts_with("error: cannot read") && bad.stderr.contains("missing.pem"),
        "{}",
        bad.stderr
    );
    assert!(TlsClient::connect(addr, &both).await.seen == second);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn reload_applies_admins_and_refuses_a_bad_config() {
    let srv = TestServer::start().await;
    let mut bob = Client::login_new(srv.addr(), "bob", "pw").await;
    Client::login_new(srv.addr(), "carol", "pw").await;
    let cfg = srv.config_path();
    let original = std::fs::read_to_string(&cfg).unwrap();

    std::fs::write(&cfg, original.replace("[server]\n", "[server]\nadmins = [\"bob\"]\nsniff_ms = 50\n")).unwrap();
    let out = srv.cli(&["reload"], "");
    assert!(out.contains("reloaded: admins = [\"bob\"] (config)"), "{out}");
    assert!(out.contains("reloaded: server.sniff_ms changed: needs a restart to take effect"), "{out}");
    bob.send("/ban carol").await;
    bob.expect("User 'carol' has been banned.").await;

    std::fs::write(&cfg, original.replace("[server]\n", "[server]\nadmins = [\"bob\"]\nlog_level = \"[[[\"\n"))
        .unwrap();
    hup(&srv);
    srv.wait_for_log("reload refused, keeping the running config").await;
    srv.wait_for_log("invalid filter directive").await;
    std::fs::write(&cfg, original.replace("[server]\n", "[server]\ngrace_ms = 99\n")).unwrap();
    hup(&srv);
    srv.wait_for_log("grace_ms must be below 40").await;
    // Still the old settings: bob stays an administrator, the server keeps serving.
    bob.send("/unban carol").await;
    bob.expect("User 'carol' has been unbanned.").await;
    Client::login(srv.addr(), "carol", "pw").await;
}

#[tokio::test]
async fn reload_applies_limits_to_open_sessions_and_refuses_a_bad_value() {
    let limits = "[limits]\nmax_rooms = 100\nchat_lines_per_sec = 100\nchat_burst = 100\n";
    let srv = TestServer::builder().toml(limits).start().await;
    let mut alice = Client::login_new(srv.addr(), "alice", "pw").await;
    alice.join("general").await;
    alice.send("early").await;
    alice.expect("alice: early").await;
    let cfg = srv.config_path();
    let original = std::fs::read_to_string(&cfg).unwrap();

    let lower = "[limits]\nmax_rooms = 1\nchat_lines_per_sec = 2\nchat_burst = 1\nmax_connections_per_ip = 1\n";
    std::fs::write(&cfg, original.replace(limits, lower)).unwrap();
    let out = srv.cli(&["reload"], "");
    for want in [
        "reloaded: limits.max_rooms = 1 (was 100)",
        "reloaded: limits.chat_lines_per_sec = 2 (was 100)",
        "reloaded: limits.chat_burst = 1 (was 100)",
        "reloaded: limits.max_connections_per_ip = 1 (was 64)",
    ] {
        assert!(out.contains(want), "{want:?} missing in:\n{out}");
    }
    assert!(!out.contains("needs a restart"), "{out}");
    // The open session's chat follows the new rate at once.
    alice.send_raw(b"one\r\ntwo\r\n").await;
    alice.expect_lines(&["alice: one", "You are sending messages too fast.", "alice: two"]).await;
    alice.send("/create_server more").await;
    alice.expect("This host already has the most servers it allows (1).").await;
    let mut second = Client::connect(srv.addr()).await;
    second.expect("Too many connections from your address.").await;

    // A value of the wrong type, then one that fails its check: refused, the lowered limits stay.
    std::fs::write(&cfg, original.replace(limits, "[limits]\nmax_rooms = \"many\"\n")).unwrap();
    let bad = srv.cli_result(&["reload"], "");
    assert!(!bad.ok && bad.stderr.contains("max_rooms"), "{}", bad.stderr);
    std::fs::write(&cfg, original.replace(limits, "[limits]\nmax_rooms = 50\noutbound_queue_messages = 0\n")).unwrap();
    let bad = srv.cli_result(&["reload"], "");
    assert!(!bad.ok && bad.stderr.contains("outbound queue must hold"), "{}", bad.stderr);
    alice.send("/create_server more").await;
    alice.expect("This host already has the most servers it allows (1).").await;
}
