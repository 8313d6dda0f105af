//! Upload abuse (issue: anonymous uploads filled disk and memory): the hourly
//! per-address budget, the disk quota, the in-flight bound with bodies held on
//! disk rather than in memory, temporary files removed on disconnect, and the
//! optional upload token.

mod cap_support;

use cap_support::{multipart, require, upload, HttpReply};
use dmconnect_e2e::{Client, TestServer};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const BOUNDARY: &str = "----dmcTestBoundary7MA4YWxkTrZu0gW";

async fn server(limits: &str, upload_cfg: &str) -> TestServer {
    require(&["http_file_upload"]);
    TestServer::builder()
        .server_key("host", "\"files.test\"")
        .capabilities(&["http_file_upload"])
        .toml(&format!("[limits]\n{limits}\n[capabilities.http_file_upload]\n{upload_cfg}\n"))
        .start()
        .await
}

fn incoming(srv: &TestServer) -> PathBuf {
    srv.data_dir().join("capabilities/.incoming")
}

/// Bytes in the temporary bodies being received.
fn incoming_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries.flatten().filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum()
}

fn incoming_files(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS");
    line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).expect("a number")
}

fn body_text(r: &HttpReply) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

/// Opens an upload of `data` and sends all of its body but the last `held` bytes.
async fn held_upload(addr: SocketAddr, data: &[u8], held: usize) -> TcpStream {
    let body = multipart(BOUNDARY, "held.bin", data);
    let head = format!(
        "POST /upload HTTP/1.1\r\nHost: t\r\nContent-Type: multipart/form-data; boundary={BOUNDARY}\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(head.as_bytes()).await.expect("head");
    s.write_all(&body[..body.len() - held]).await.expect("body");
    s
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..200 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn uploads_over_the_hourly_budget_are_refused() {
    let srv = server("uploads_per_ip_per_hour = 3", "max_size = 10000").await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let r = upload(srv.addr(), &format!("f{i}.txt"), b"data").await;
        assert_eq!(r.status, 200, "{r:?}");
        ids.push(r.json()["id"].as_str().expect("id").to_owned());
    }
    let r = upload(srv.addr(), "f3.txt", b"data").await;
    assert_eq!(r.status, 429, "{r:?}");
    assert_eq!(body_text(&r), "Too many uploads from your address; try again later.\n");
    // Downloads are not uploads.
    let d = cap_support::http_get(srv.addr(), &format!("/file/{}/f0.txt", ids[0])).await;
    assert_eq!((d.status, d.body.as_slice()), (200, &b"data"[..]));
}

#[tokio::test]
async fn a_full_quota_refuses_new_uploads() {
    let srv = server("upload_quota_bytes = 5000", "max_size = 100000").await;
    assert_eq!(upload(srv.addr(), "a.bin", &[1u8; 2000]).await.status, 200);
    assert_eq!(upload(srv.addr(), "b.bin", &[2u8; 2000]).await.status, 200);
    let r = upload(srv.addr(), "c.bin", &[3u8; 2000]).await;
    assert_eq!(r.status, 507, "{r:?}");
    assert_eq!(body_text(&r), "Upload storage is full; try again later.\n");
    // A small one still fits.
    assert_eq!(upload(srv.addr(), "d.bin", &[4u8; 100]).await.status, 200);
}

#[tokio::test]
async fn held_bodies_stay_on_disk_and_the_inflight_bound_refuses_the_excess() {
    const SIZE: usize = 4 * 1024 * 1024;
    const CONNS: usize = 12;
    let limits = format!("upload_inflight_bytes = {}\nmax_connections_per_ip = 0", CONNS * (SIZE + 1024));
    let srv = server(&limits, &format!("max_size = {SIZE}")).await;
    let data = vec![0x5au8; SIZE];
    // Warm up (first upload, allocator arenas) before the baseline.
    assert_eq!(upload(srv.addr(), "warm.bin", &data).await.status, 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let baseline = rss_kib(srv.pid());

    let mut held = Vec::new();
    for _ in 0..CONNS {
        held.push(held_upload(srv.addr(), &data, 1).await);
    }
    let dir = incoming(&srv);
    let want = (CONNS * SIZE) as u64;
    wait_for("the held bodies on disk", || incoming_bytes(&dir) >= want).await;
    let peak = rss_kib(srv.pid());

    // One more does not fit in flight: refused at once, before its body.
    let r = cap_support::http_raw(
        srv.addr(),
        format!(
            "POST /upload HTTP/1.1\r\nHost: t\r\nContent-Type: multipart/form-data; boundary=x\r\n\
             Content-Length: {SIZE}\r\n\r\n"
        )
        .as_bytes(),
    )
    .await;
    assert_eq!(r.status, 503, "{r:?}");
    assert_eq!(body_text(&r), "Too many uploads in progress; try again later.\n");

    drop(held);
    wait_for("the temporary files removed", || incoming_files(&dir) == 0).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = rss_kib(srv.pid());
    eprintln!("RSS KiB: baseline {baseline}, {CONNS} bodies of {SIZE} B held {peak}, after close {after}");
    let bodies_kib = (CONNS * SIZE / 1024) as u64;
    assert!(peak < baseline + bodies_kib / 3, "held bodies grew RSS {baseline} -> {peak} KiB");
    assert!(after < baseline + bodies_kib / 6, "RSS stayed up: {baseline} -> {after} KiB");
    // And uploads work again.
    assert_eq!(upload(srv.addr(), "after.bin", b"ok").await.status, 200);
}

#[tokio::test]
async fn a_disconnect_mid_body_leaves_no_temporary_file() {
    let srv = server("", "max_size = 1000000").await;
    let dir = incoming(&srv);
    let s = held_upload(srv.addr(), &vec![9u8; 500_000], 200_000).await;
    wait_for("the partial body on disk", || incoming_bytes(&dir) >= 300_000).await;
    drop(s);
    wait_for("the temporary file removed", || incoming_files(&dir) == 0).await;
    let files = srv.data_dir().join("capabilities/http_file_upload/files");
    assert_eq!(std::fs::read_dir(&files).map(|d| d.count()).unwrap_or(0), 0, "nothing stored");
}

#[tokio::test]
async fn uploads_need_a_token_when_required() {
    let srv = server("", "max_size = 10000\nrequire_token = true\ntoken_ttl_secs = 120").await;
    let r = upload(srv.addr(), "a.txt", b"hi").await;
    assert_eq!(r.status, 403, "{r:?}");
    assert_eq!(
        body_text(&r),
        "{\"status\":\"error\",\"reason\":\"upload token missing or expired; get one with /http_file_upload-token\"}"
    );

    let mut c = Client::login_new(srv.addr(), "alice", "pw").await;
    c.send("/http_file_upload").await;
    c.expect_lines(&[
        "/http_file_upload-info - Show how to upload and download files over HTTP",
        "/http_file_upload-token - Get a short-lived URL to upload one or more files",
    ])
    .await;
    c.send("/http_file_upload-token").await;
    let line = c.recv().await;
    let prefix = format!("Upload URL (valid for 120 seconds): http://files.test:{}/upload?token=", srv.addr().port());
    let token = line.strip_prefix(&prefix).unwrap_or_else(|| panic!("{line:?}")).to_owned();

    let addr = srv.addr();
    let post = |path: String| {
        let body = multipart(BOUNDARY, "a.txt", b"hi");
        let mut req = format!(
            "POST {path} HTTP/1.1\r\nHost: t\r\nContent-Type: multipart/form-data; boundary={BOUNDARY}\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        req.extend_from_slice(&body);
        async move { cap_support::http_raw(addr, &req).await }
    };
    let r = post(format!("/upload?token={token}")).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json()["size"], 2);
    let (expires, _) = token.split_once('-').expect("EXPIRES-MAC");
    let r = post(format!("/upload?token={expires}-00112233445566778899aabbccddeeff")).await;
    assert_eq!(r.status, 403, "{r:?}");
}
