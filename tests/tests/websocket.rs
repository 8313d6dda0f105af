//! WebSocket sessions at `GET /ws` without a browser: frames in and out, chat with
//! a plain TCP user, the Origin rule, size limits, pings and clean closes; the web
//! app at `GET /` with its security headers, served with no capability loaded.

mod cap_support;

use cap_support::{http_get, http_raw};
use dmconnect_e2e::lines::LineClient;
use dmconnect_e2e::{Client, TestServer, GREETING};
use futures_util::{SinkExt, StreamExt};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

const TOO_LONG: &str = "Error: message too long (the limit is 32768 bytes); it was discarded.";

/// A WebSocket chat client; a frame may hold several lines (a multi-line reply).
struct Ws {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    lines: VecDeque<String>,
}

impl Ws {
    async fn connect(addr: SocketAddr) -> Ws {
        let (ws, resp) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws")).await.expect("ws connect");
        assert_eq!(resp.status(), 101);
        Ws { ws, lines: VecDeque::new() }
    }

    async fn send(&mut self, text: &str) {
        self.ws.send(Message::text(text)).await.expect("ws send");
    }

    /// The next frame that is not a control frame.
    async fn next(&mut self) -> Message {
        loop {
            let m = tokio::time::timeout(Duration::from_secs(5), self.ws.next())
                .await
                .expect("no frame within 5 s")
                .expect("stream ended")
                .expect("ws error");
            if !matches!(m, Message::Ping(_)) {
                return m;
            }
        }
    }

    /// The next line, from the current frame or the next text frame.
    async fn line(&mut self) -> String {
        while self.lines.is_empty() {
            match self.next().await {
                Message::Text(t) => {
                    assert!(!t.ends_with('\n'), "a frame has no trailing newline: {t:?}");
                    self.lines.extend(t.split('\n').map(String::from));
                }
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
        self.lines.pop_front().unwrap_or_default()
    }

    async fn expect(&mut self, text: &str) {
        assert_eq!(self.line().await, text);
    }

    /// Registers, logs in and joins `general`.
    async fn login_new(addr: SocketAddr, name: &str) -> Ws {
        let mut w = Ws::connect(addr).await;
        w.register(name).await;
        w.login(name).await;
        w.join_general(name).await;
        w
    }
}

impl LineClient for Ws {
    async fn send_line(&mut self, text: &str) {
        self.send(text).await;
    }

    async fn next_line(&mut self) -> String {
        self.line().await
    }
}

#[tokio::test]
async fn frames_in_and_out_and_chat_with_a_tcp_user() {
    let srv = TestServer::start().await;
    let mut web = Ws::login_new(srv.addr(), "webby").await;
    let mut tcp = Client::login_new(srv.addr(), "telly", "pw").await;
    tcp.join("general").await;
    web.expect("*** telly has joined the server.").await;

    web.send("hello from the web").await;
    web.expect("webby: hello from the web").await;
    tcp.expect("webby: hello from the web").await;
    tcp.send("hi from telnet").await;
    tcp.expect("telly: hi from telnet").await;
    web.expect("telly: hi from telnet").await;

    // One frame may carry several messages, split exactly like plain-port input.
    web.send("/act waves.\r\n/members").await;
    web.expect("*** webby waves.").await;
    web.expect("Members in 'general': webby, telly").await;
    tcp.expect("*** webby waves.").await;

    // A multi-line reply is one frame with `\n` between its lines, no trailing `\n`.
    web.send("/help").await;
    let Message::Text(help) = web.next().await else { panic!("help is a text frame") };
    assert!(help.lines().count() > 5 && !help.ends_with('\n'), "{help:?}");

    // Private messages both ways; binary frames are read like text.
    web.ws.send(Message::binary(b"/pm telly psst".to_vec())).await.unwrap();
    web.expect("Private message sent to telly.").await;
    tcp.expect("(Private) webby: psst").await;
    tcp.send("/pm webby back").await;
    tcp.expect("Private message sent to webby.").await;
    web.expect("(Private) telly: back").await;

    // Pings are answered; the keep-alive command works as on telnet.
    web.ws.send(Message::Ping(b"are you there".to_vec().into())).await.unwrap();
    assert_eq!(web.next().await, Message::Pong(b"are you there".to_vec().into()));
    web.send("/").await;
    web.expect("*Ping*").await;

    // Closing the WebSocket ends the session like a TCP disconnect.
    web.ws.close(None).await.unwrap();
    tcp.expect("*** webby has left the server.").await;
}

#[tokio::test]
async fn oversized_messages_and_frames() {
    let srv = TestServer::start().await;
    let mut w = Ws::connect(srv.addr()).await;
    w.expect(GREETING).await;
    // Over the 32,768-byte message limit: the one-line error, the session stays.
    w.send(&"a".repeat(40_000)).await;
    w.expect(TOO_LONG).await;
    w.send("/").await;
    w.expect("*Ping*").await;
    // Invalid UTF-8 in a binary frame: the one-line error, the session stays.
    w.ws.send(Message::binary(vec![0xff, 0xfe])).await.unwrap();
    w.expect("Error: message is not valid UTF-8; it was discarded.").await;
    w.send("/").await;
    w.expect("*Ping*").await;
    // A frame over [web] max_message_bytes (64 KiB) ends the session.
    let _ = w.ws.send(Message::text("b".repeat(70_000))).await;
    let end = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match w.ws.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(end.is_ok(), "the session should end after an oversized frame");
}

async fn ws_with_origin(addr: SocketAddr, origin: &str) -> Result<u16, (u16, String)> {
    let mut req = format!("ws://{addr}/ws").into_client_request().unwrap();
    req.headers_mut().insert("origin", origin.parse().unwrap());
    match tokio_tungstenite::connect_async(req).await {
        Ok((_, resp)) => Ok(resp.status().as_u16()),
        Err(tungstenite::Error::Http(resp)) => {
            let body = resp.body().as_ref().map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default();
            Err((resp.status().as_u16(), body))
        }
        Err(e) => panic!("unexpected error: {e}"),
    }
}

#[tokio::test]
async fn origin_must_match_the_host_or_the_allow_list() {
    let srv = TestServer::start().await;
    let addr = srv.addr();
    // tungstenite sends `Host: 127.0.0.1:PORT`.
    assert_eq!(ws_with_origin(addr, &format!("http://{addr}")).await, Ok(101));
    assert_eq!(
        ws_with_origin(addr, "http://evil.example").await,
        Err((403, "Forbidden: origin http://evil.example is not allowed\n".into()))
    );
    assert!(ws_with_origin(addr, "null").await.is_err());

    let srv = TestServer::builder().toml("[web]\nallowed_origins = [\"https://app.example\"]").start().await;
    assert_eq!(ws_with_origin(srv.addr(), "https://app.example").await, Ok(101));
    let other = format!("http://{}", srv.addr());
    assert_eq!(ws_with_origin(srv.addr(), &other).await.map_err(|e| e.0), Err(403));
}

#[tokio::test]
async fn shutdown_sends_a_close_frame() {
    let mut srv = TestServer::start().await;
    let mut w = Ws::login_new(srv.addr(), "leaver").await;
    srv.stop().await;
    w.expect("Server is shutting down.").await;
    assert!(matches!(w.next().await, Message::Close(_)));
}

#[tokio::test]
async fn the_app_is_served_without_capabilities() {
    let srv = TestServer::start().await;
    let page = http_get(srv.addr(), "/").await;
    assert_eq!(page.status, 200);
    assert_eq!(page.header("content-type"), Some("text/html; charset=utf-8"));
    let csp = page.header("content-security-policy").expect("CSP");
    assert!(csp.contains("default-src 'none'") && csp.contains("script-src 'sha256-"), "{csp}");
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    let html = String::from_utf8(page.body).unwrap();
    assert!(html.contains("id=\"log\"") && html.contains("<script>") && html.contains("function connect()"), "{html}");
    assert_eq!(http_get(srv.addr(), "/nope").await.status, 404);
    // Not a WebSocket handshake.
    assert_eq!(http_get(srv.addr(), "/ws").await.status, 400);
    let r = http_raw(srv.addr(), b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await;
    assert_eq!(r.status, 405);

    let off = TestServer::builder().toml("[web]\nenabled = false").start().await;
    assert_eq!(http_get(off.addr(), "/").await.status, 404);
    assert_eq!(http_get(off.addr(), "/ws").await.status, 404);
}

#[tokio::test]
async fn a_silent_preconnected_socket_that_sends_a_request_after_the_greeting_is_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let srv = TestServer::start().await;
    // A browser's spare connection: silent past sniff_ms, so it was greeted as chat.
    let mut s = TcpStream::connect(srv.addr()).await.unwrap();
    let greeting = format!("{GREETING}\n");
    let mut got = vec![0u8; greeting.len()];
    tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut got)).await.unwrap().unwrap();
    assert_eq!(String::from_utf8_lossy(&got), greeting);
    s.write_all(b"GET /index.html HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n").await.unwrap();
    // Closed at once, with nothing more written (no greeting per header line).
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut rest)).await.expect("not closed").unwrap();
    assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
    // A chat client's lines that merely start with GET are not affected.
    let mut c = Client::connect(srv.addr()).await;
    c.expect(GREETING).await;
    c.send("GET me in").await;
    c.expect(GREETING).await;
}

#[tokio::test]
async fn the_http_only_port_serves_late_requests_and_websocket_sessions() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let srv = TestServer::builder().server_key("http_listen", "\"127.0.0.1:0\"").start().await;
    let http = srv.http_addr().expect("http port");
    // A spare connection that stays silent far past sniff_ms is still answered as HTTP: no greeting.
    let mut s = TcpStream::connect(http).await.unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut page = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut page)).await.expect("answered").unwrap();
    let page = String::from_utf8_lossy(&page);
    assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
    assert!(page.contains("function connect()"), "{page}");
    // A web user on the HTTP port chats with a telnet user on the main port.
    let mut w = Ws::login_new(http, "webby").await;
    let mut tcp = Client::login_new(srv.addr(), "telly", "pw").await;
    tcp.join("general").await;
    w.expect("*** telly has joined the server.").await;
    tcp.send("hi web").await;
    w.expect("telly: hi web").await;
    // Chat is not spoken here: a line is not an HTTP request.
    let mut s = TcpStream::connect(http).await.unwrap();
    s.write_all(b"/login a b\r\n\r\n").await.unwrap();
    let mut reply = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut reply)).await.expect("closed").unwrap();
    assert!(String::from_utf8_lossy(&reply).starts_with("HTTP/1.1 400"), "{}", String::from_utf8_lossy(&reply));
}

#[tokio::test]
async fn the_http_only_port_has_the_same_per_address_limit() {
    use tokio::io::AsyncReadExt;
    let srv = TestServer::builder()
        .server_key("http_listen", "\"127.0.0.1:0\"")
        .toml("[limits]\nmax_connections_per_ip = 2")
        .start()
        .await;
    let http = srv.http_addr().expect("http port");
    let first = TcpStream::connect(http).await.unwrap();
    let _second = TcpStream::connect(http).await.unwrap();
    // A third silent connection from the same address is closed at once, with nothing written.
    let mut third = TcpStream::connect(http).await.unwrap();
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), third.read_to_end(&mut got)).await.expect("closed").unwrap();
    assert!(got.is_empty(), "{}", String::from_utf8_lossy(&got));
    // Freeing a slot lets the next request in.
    drop(first);
    // The server frees the slot when it reads the close; generous for a loaded CI machine.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(http_get(http, "/").await.status, 200);
}

#[tokio::test]
async fn websocket_sessions_hold_their_connection_slot() {
    // The session runs in a task of its own after the upgrade: the slot must go with it.
    let srv = TestServer::builder().toml("[limits]\nmax_connections_per_ip = 2").start().await;
    let mut a = Ws::login_new(srv.addr(), "wsa").await;
    let mut b = Ws::login_new(srv.addr(), "wsb").await;
    let mut third = Client::connect(srv.addr()).await;
    third.expect("Too many connections from your address.").await;
    a.send("hello b").await;
    b.expect("wsa: hello b").await;
    // An idle session still answers pings.
    b.ws.send(Message::Ping(b"idle?".to_vec().into())).await.unwrap();
    assert_eq!(b.next().await, Message::Pong(b"idle?".to_vec().into()));
    drop(a);
    // The slot is free once the server read the close; generous for a loaded CI machine.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut fourth = Client::connect(srv.addr()).await;
    fourth.expect(GREETING).await;
}
