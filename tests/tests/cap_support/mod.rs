//! Helpers for the capability tests: a raw HTTP/1.1 exchange, multipart bodies,
//! polling, and plugin directories built from the real `.so` files.

#![allow(dead_code)]

pub mod fixtures;

use dmconnect_e2e::{target_dir, temp_dir, Client};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The four bundled capabilities, in the default order.
pub const ALL: [&str; 4] = ["status", "ignore", "sessions", "http_file_upload"];

/// Asserts the plugin files exist (they come from `cargo build --workspace`).
pub fn require(names: &[&str]) {
    for n in names {
        let so = target_dir().join(format!("libdmcap_{n}.so"));
        assert!(so.exists(), "{} is missing: run `cargo build --workspace` first", so.display());
    }
}

/// A parsed HTTP response.
#[derive(Debug)]
pub struct HttpReply {
    /// Status code (0 if nothing came back).
    pub status: u16,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl HttpReply {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }
}

/// Sends raw bytes on a fresh connection and reads the response until the server closes.
pub async fn http_raw(addr: SocketAddr, request: &[u8]) -> HttpReply {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    // The server may answer (and close) before reading everything we send: ignore write errors.
    let _ = s.write_all(request).await;
    let mut raw = Vec::new();
    let mut buf = [0u8; 65536];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => raw.extend_from_slice(&buf[..n]),
        }
    }
    parse(&raw)
}

fn parse(raw: &[u8]) -> HttpReply {
    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return HttpReply { status: 0, headers: vec![], body: raw.to_vec() };
    };
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    if let Some(n) = headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse::<usize>().ok()) {
        body.truncate(n);
    }
    HttpReply { status, headers, body }
}

/// `GET path` with `Connection: close`.
pub async fn http_get(addr: SocketAddr, path: &str) -> HttpReply {
    http_raw(addr, format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").as_bytes()).await
}

/// A `multipart/form-data` body with one text field and one file part.
pub fn multipart(boundary: &str, filename: &str, data: &[u8]) -> Vec<u8> {
    let mut b = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    b.extend_from_slice(data);
    b.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    b
}

/// `POST /upload` of one file.
pub async fn upload(addr: SocketAddr, filename: &str, data: &[u8]) -> HttpReply {
    let boundary = "----dmcTestBoundary7MA4YWxkTrZu0gW";
    let body = multipart(boundary, filename, data);
    let mut req = format!(
        "POST /upload HTTP/1.1\r\nHost: test\r\nContent-Type: multipart/form-data; boundary={boundary}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(&body);
    http_raw(addr, &req).await
}

/// Sends `cmd` until the answer is `want` (state that settles asynchronously, like a disconnect).
pub async fn until(c: &mut Client, cmd: &str, want: &str) {
    let mut last = String::new();
    for _ in 0..100 {
        c.send(cmd).await;
        last = c.recv().await;
        if last == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    panic!("{cmd}: wanted {want:?}, last answer {last:?}");
}

/// A temporary plugin directory holding symlinks to these real plugin files.
pub fn plugin_dir(names: &[&str]) -> PathBuf {
    let dir = temp_dir("plugins");
    for n in names {
        let file = format!("libdmcap_{n}.so");
        std::os::unix::fs::symlink(target_dir().join(&file), dir.join(&file)).expect("symlink");
    }
    dir
}

/// A minimal line client bound to a chosen local IP (the harness client cannot bind).
pub struct BoundClient {
    rd: tokio::io::BufReader<tokio::net::tcp::OwnedReadHalf>,
    wr: tokio::net::tcp::OwnedWriteHalf,
}

impl BoundClient {
    /// Connects from `local_ip` (e.g. 127.0.0.2) and logs in as an existing account.
    pub async fn login(local_ip: &str, addr: SocketAddr, name: &str, pw: &str) -> BoundClient {
        let sock = tokio::net::TcpSocket::new_v4().expect("socket");
        sock.bind(format!("{local_ip}:0").parse().expect("addr")).expect("bind local ip");
        let (rd, wr) = sock.connect(addr).await.expect("connect").into_split();
        let mut c = BoundClient { rd: tokio::io::BufReader::new(rd), wr };
        assert_eq!(c.recv().await, dmconnect_e2e::GREETING);
        c.send(&format!("/login {name} {pw}")).await;
        assert_eq!(c.recv().await, "Login successful.");
        c.recv().await;
        c.recv().await;
        c
    }

    /// Sends a line.
    pub async fn send(&mut self, line: &str) {
        self.wr.write_all(format!("{line}\r\n").as_bytes()).await.expect("send");
    }

    /// The next line (5 s at most).
    pub async fn recv(&mut self) -> String {
        use tokio::io::AsyncBufReadExt;
        let mut line = String::new();
        let n = tokio::time::timeout(Duration::from_secs(5), self.rd.read_line(&mut line)).await;
        assert!(matches!(n, Ok(Ok(k)) if k > 0), "no line from the server");
        line.trim_end_matches('\n').to_owned()
    }
}

/// Sends `cmd` and returns the answer lines up to `End of history.` (kept) or a
/// single other line, each `[YYYY-MM-DD HH:MM] ` prefix checked and removed.
pub async fn history(c: &mut Client, cmd: &str) -> Vec<String> {
    c.send(cmd).await;
    let mut out = Vec::new();
    loop {
        let line = c.recv().await;
        let Some(rest) = line.strip_prefix('[') else {
            let end = line == "End of history." || out.is_empty();
            out.push(line);
            if end {
                return out;
            }
            continue;
        };
        let (stamp, text) = rest.split_once("] ").unwrap_or_else(|| panic!("bad line {line:?}"));
        let b = stamp.as_bytes();
        assert!(b.len() == 16 && b[4] == b'-' && b[7] == b'-' && b[10] == b' ' && b[13] == b':', "{line}");
        out.push(text.to_owned());
    }
}
