//! TLS: the plain protocol with line framing inside TLS, checked against a
//! certificate made by rcgen for this test run.

use dmconnect_e2e::lines::{chat_with_plain_user, LineClient};
use dmconnect_e2e::{Client, TestServer, GREETING};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

const WAIT: Duration = Duration::from_secs(5);

/// A fresh self-signed pair for "localhost", written as PEM files.
struct Pair {
    cert: PathBuf,
    key: PathBuf,
    der: CertificateDer<'static>,
}

fn make_pair(tag: &str) -> Pair {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let dir = std::env::temp_dir().join(format!("dmconnect-e2e-tls-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.key_pair.serialize_pem()).unwrap();
    Pair { cert, key, der: made.cert.der().clone() }
}

/// A line client over TLS that trusts only the test certificate.
struct TlsClient {
    io: BufReader<TlsStream<TcpStream>>,
}

/// A TLS connection that trusts only the test certificate.
async fn tls_stream(addr: SocketAddr, pair: &Pair) -> TlsStream<TcpStream> {
    let mut roots = RootCertStore::empty();
    roots.add(pair.der.clone()).unwrap();
    let config = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    tokio::time::timeout(WAIT, TlsConnector::from(Arc::new(config)).connect(name, tcp))
        .await
        .expect("TLS handshake stalled")
        .expect("TLS handshake failed")
}

impl TlsClient {
    async fn connect(addr: SocketAddr, pair: &Pair) -> Self {
        Self { io: BufReader::new(tls_stream(addr, pair).await) }
    }

    async fn expect(&mut self, want: &str) {
        self.expect_line(want).await;
    }
}

impl LineClient for TlsClient {
    async fn send_line(&mut self, line: &str) {
        self.io.get_mut().write_all(format!("{line}\r\n").as_bytes()).await.unwrap();
        self.io.get_mut().flush().await.unwrap();
    }

    async fn next_line(&mut self) -> String {
        let mut line = String::new();
        let n = tokio::time::timeout(WAIT, self.io.read_line(&mut line)).await.expect("no line within 5 s").unwrap();
        assert!(n > 0, "connection closed while reading a line");
        line.strip_suffix('\n').unwrap_or(&line).to_owned()
    }
}

async fn assert_closed(s: &mut TcpStream) {
    let mut buf = [0u8; 64];
    loop {
        match tokio::time::timeout(WAIT, s.read(&mut buf)).await {
            Err(_) => panic!("the server kept the connection open"),
            Ok(Ok(0)) | Ok(Err(_)) => return,
            // A TLS alert may come first; then the close.
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test]
async fn tls_user_chats_with_plain_user() {
    let pair = make_pair("chat");
    let mut srv = TestServer::builder().tls(&pair.cert, &pair.key).start().await;
    let addr = srv.tls_addr().expect("TLS port");

    let mut alice = TlsClient::connect(addr, &pair).await;
    alice.register("alice").await;
    alice.login("alice").await;
    alice.join_general("alice").await;
    chat_with_plain_user(&mut alice, "alice", srv.addr()).await;
    srv.stop().await;
}

#[tokio::test]
async fn non_tls_and_silent_clients_are_dropped() {
    let pair = make_pair("drop");
    let mut srv =
        TestServer::builder().tls(&pair.cert, &pair.key).server_key("handshake_timeout_ms", "500").start().await;
    let addr = srv.tls_addr().expect("TLS port");

    let mut plain = TcpStream::connect(addr).await.unwrap();
    plain.write_all(b"/login alice pw\r\n").await.unwrap();
    assert_closed(&mut plain).await;

    let started = Instant::now();
    let mut silent = TcpStream::connect(addr).await.unwrap();
    assert_closed(&mut silent).await;
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(400) && took < Duration::from_secs(3), "closed after {took:?}");

    // The TLS listener and the plain port both still work.
    let mut ok = TlsClient::connect(addr, &pair).await;
    ok.expect(GREETING).await;
    let mut c = Client::connect(srv.addr()).await;
    c.expect(GREETING).await;
    srv.stop().await;
}

#[tokio::test]
async fn wss_and_https_share_the_tls_port() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let pair = make_pair("wss");
    let srv = TestServer::builder().tls(&pair.cert, &pair.key).start().await;
    let tls_addr = srv.tls_addr().expect("tls port");
    let (mut ws, resp) = tokio_tungstenite::client_async("wss://localhost/ws", tls_stream(tls_addr, &pair).await)
        .await
        .expect("wss handshake");
    assert_eq!(resp.status(), 101);
    let first = tokio::time::timeout(WAIT, ws.next()).await.expect("no frame").expect("ended").expect("ws error");
    assert_eq!(first, Message::text(GREETING));
    ws.send(Message::text("/")).await.unwrap();
    assert_eq!(tokio::time::timeout(WAIT, ws.next()).await.unwrap().unwrap().unwrap(), Message::text("*Ping*"));

    // The web app over https:// on the same port.
    let mut tls = tls_stream(tls_addr, &pair).await;
    tls.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut page = String::new();
    tokio::time::timeout(WAIT, tls.read_to_string(&mut page)).await.expect("page").ok();
    assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
    assert!(page.contains("id=\"log\""));

    // A chat client on the same port still gets the greeting.
    let mut c = TlsClient::connect(tls_addr, &pair).await;
    c.expect(GREETING).await;
}
