//! Federation test support: several real servers on 127.0.0.x sharing one
//! port (as production hosts share 42439), and a scripted fake peer that
//! speaks the federation protocol (docs/protocol.md §9) the way the reference server does.
//!
//! Peers must know each other's port before they start, so each host is
//! started through the shared harness with a port chosen up front
//! ([`free_port`], then `listen_port`).

#![allow(dead_code)]

use dmconnect_e2e::{Client, TestServer};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// A port free on every loopback address in `ips`.
pub fn free_port(ips: &[&str]) -> u16 {
    for _ in 0..50 {
        let first = std::net::TcpListener::bind(format!("{}:0", ips[0])).expect("bind");
        let port = first.local_addr().expect("addr").port();
        let rest: Vec<_> = ips[1..].iter().map(|ip| std::net::TcpListener::bind(format!("{ip}:{port}"))).collect();
        if rest.iter().all(|r| r.is_ok()) {
            return port;
        }
    }
    panic!("no common free port on {ips:?}");
}

/// One `dmconnect serve` process whose host name is its loopback IP.
pub struct Host {
    /// Advertised host name (= its IP).
    pub name: String,
    /// Its main port.
    pub addr: SocketAddr,
    server: TestServer,
}

/// `[federation]` keys for fast tests; keys in `extra` replace the defaults here.
pub fn fed_toml(port: u16, extra: &str) -> String {
    let defaults = [
        ("connect_timeout_ms", "1000"),
        ("request_timeout_ms", "3000"),
        ("dialback_timeout_ms", "2000"),
        ("retry_backoff_ms", "100"),
    ];
    let mut out = format!("[federation]\nenabled = true\npeer_port = {port}\n");
    for (k, v) in defaults {
        if !extra.lines().any(|l| l.split('=').next().is_some_and(|x| x.trim() == k)) {
            out += &format!("{k} = {v}\n");
        }
    }
    out + extra + "\n"
}

impl Host {
    /// Starts a server on `ip:port` named `ip`, with `caps` loaded and `fed_extra` under `[federation]`.
    pub async fn start(ip: &str, port: u16, caps: &[&str], fed_extra: &str) -> Host {
        let server = TestServer::builder()
            .listen_ip(ip)
            .listen_port(port)
            .server_key("host", &format!("{ip:?}"))
            .server_key("sniff_ms", "50")
            .capabilities(caps)
            .toml(&fed_toml(port, fed_extra))
            .start()
            .await;
        Host { name: ip.into(), addr: server.addr(), server }
    }

    /// What it logged so far.
    pub fn logs(&self) -> String {
        self.server.logs()
    }

    /// SIGKILL: a crashed host.
    pub async fn kill(&mut self) {
        self.server.kill().await;
    }

    /// A logged-in client of a fresh account on this host.
    pub async fn user(&self, name: &str) -> Client {
        Client::login_new(self.addr, name, "pw").await
    }

    /// `user@this-host`.
    pub fn at(&self, user: &str) -> String {
        format!("{user}@{}", self.name)
    }
}

/// Starts `n` hosts on 127.0.0.2, .3, ... sharing one fresh port.
pub async fn hosts(n: usize, caps: &[&str], fed_extra: &str) -> Vec<Host> {
    let ips: Vec<String> = (0..n).map(|i| format!("127.0.0.{}", i + 2)).collect();
    let refs: Vec<&str> = ips.iter().map(String::as_str).collect();
    let port = free_port(&refs);
    let mut out = Vec::new();
    for ip in &ips {
        out.push(Host::start(ip, port, caps, fed_extra).await);
    }
    out
}

/// Sends one raw s2s request and returns the answer line as JSON.
pub async fn s2s(addr: SocketAddr, body: &str) -> Value {
    s2s_from("127.0.0.1", addr, body).await
}

/// Like [`s2s`], from source address `src` (as a peer on that address would).
pub async fn s2s_from(src: &str, addr: SocketAddr, body: &str) -> Value {
    let sock = tokio::net::TcpSocket::new_v4().expect("socket");
    sock.bind(format!("{src}:0").parse().expect("source ip")).expect("bind source");
    let mut s = sock.connect(addr).await.expect("connect");
    s.write_all(body.as_bytes()).await.expect("write");
    s.write_all(b"\n").await.expect("write");
    let mut line = String::new();
    let mut rd = BufReader::new(s);
    tokio::time::timeout(Duration::from_secs(10), rd.read_line(&mut line))
        .await
        .expect("answer in time")
        .expect("read");
    serde_json::from_str(line.trim_end()).unwrap_or_else(|e| panic!("answer {line:?} is not JSON: {e}"))
}

/// A scripted peer on `ip:port` that answers like the reference server, but
/// consistently: a dialback `ok` only for ids it sent with [`FakePeer::request`],
/// pings `ok`, status from `online`, and records all it gets.
pub struct FakePeer {
    /// Its host name (= IP).
    pub name: String,
    /// Requests received, in order.
    pub received: Arc<Mutex<Vec<Value>>>,
    /// What it answers to `status_request`.
    pub online: Arc<Mutex<bool>>,
    /// Answers to use instead of `{"status":"ok"}`, by request type.
    pub answers: Arc<Mutex<std::collections::HashMap<String, Value>>>,
    /// Message ids it sent (and so confirms).
    pub sent: Arc<Mutex<std::collections::HashSet<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl FakePeer {
    /// Listens on `ip:port`.
    pub async fn start(ip: &str, port: u16) -> FakePeer {
        let l = TcpListener::bind(format!("{ip}:{port}")).await.expect("bind fake peer");
        let received: Arc<Mutex<Vec<Value>>> = Arc::default();
        let online = Arc::new(Mutex::new(true));
        let answers: Arc<Mutex<std::collections::HashMap<String, Value>>> = Arc::default();
        let sent: Arc<Mutex<std::collections::HashSet<String>>> = Arc::default();
        let (rec, on, ans, ids) = (received.clone(), online.clone(), answers.clone(), sent.clone());
        let task = tokio::spawn(async move {
            while let Ok((s, _)) = l.accept().await {
                let (rec, on, ans, ids) = (rec.clone(), on.clone(), ans.clone(), ids.clone());
                tokio::spawn(async move {
                    let mut rd = BufReader::new(s);
                    let mut line = String::new();
                    if rd.read_line(&mut line).await.is_err() {
                        return;
                    }
                    let Ok(v) = serde_json::from_str::<Value>(line.trim_end()) else { return };
                    let answer = match v["type"].as_str() {
                        Some("dialback_check") => {
                            let known = v["msg_id"].as_str().is_some_and(|i| ids.lock().unwrap().contains(i));
                            let result = if known { "ok" } else { "fail" };
                            json!({"type":"dialback_result","msg_id":v["msg_id"],"result":result})
                        }
                        Some("status_request") => {
                            let online = *on.lock().unwrap();
                            let map: serde_json::Map<String, Value> = v["usernames"]
                                .as_array()
                                .into_iter()
                                .flatten()
                                .filter_map(|u| u.as_str())
                                .map(|u| (u.to_owned(), online.into()))
                                .collect();
                            json!({"status":"ok","online_map":map})
                        }
                        Some(t) => ans.lock().unwrap().get(t).cloned().unwrap_or_else(|| json!({"status":"ok"})),
                        None => json!({"status":"ok"}),
                    };
                    rec.lock().unwrap().push(v);
                    let mut s = rd.into_inner();
                    let _ = s.write_all(format!("{answer}\n").as_bytes()).await;
                });
            }
        });
        FakePeer { name: ip.into(), received, online, answers, sent, task }
    }

    /// Waits up to 5 s for a received request matching `pred`.
    pub async fn wait_for(&self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        for _ in 0..250 {
            if let Some(v) = self.received.lock().unwrap().iter().find(|v| pred(v)) {
                return v.clone();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("fake peer never received {what}; got {:?}", self.received.lock().unwrap());
    }

    /// A request from this peer, as the reference would build it.
    pub fn request(&self, mut body: Value) -> String {
        let id = format!("{:064x}", rand::random::<u128>());
        self.sent.lock().unwrap().insert(id.clone());
        body["from_host"] = self.name.clone().into();
        body["msg_id"] = id.into();
        body.to_string()
    }

    /// Sends a request built by [`FakePeer::request`] to `addr` from this peer's own address.
    pub async fn send(&self, addr: SocketAddr, body: Value) -> Value {
        s2s_from(&self.name, addr, &self.request(body)).await
    }
}

impl Drop for FakePeer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
