//! http_file_upload over raw HTTP on the main port (docs/protocol.md §8): upload and
//! download of binary bytes, size limits, missing files, name sanitising, expiry.

mod cap_support;

use cap_support::{http_get, http_raw, require, upload};
use dmconnect_e2e::TestServer;
use std::time::Duration;

async fn server(max_size: u64, ttl: u64) -> TestServer {
    require(&["http_file_upload"]);
    TestServer::builder()
        .server_key("host", "\"files.test\"")
        .capabilities(&["http_file_upload"])
        .toml(&format!("[capabilities.http_file_upload]\nmax_size = {max_size}\nttl_secs = {ttl}\n"))
        .start()
        .await
}

#[tokio::test]
async fn binary_upload_then_download() {
    let srv = server(100_000, 3600).await;
    let data: Vec<u8> = (0..40_000u32).map(|i| (i * 7 % 256) as u8).chain(b"\r\n--x--\r\n\0".iter().copied()).collect();
    let r = upload(srv.addr(), "photo.raw", &data).await;
    assert_eq!(r.status, 200, "{r:?}");
    let v = r.json();
    let id = v["id"].as_str().expect("id").to_owned();
    assert_eq!(v["status"], "ok");
    assert_eq!(v["filename"], "photo.raw");
    assert_eq!(v["size"], data.len());
    let url = format!("http://files.test:{}/file/{id}/photo.raw", srv.addr().port());
    assert_eq!(v["url"], url.as_str());
    // The field order of the upload answer (docs/capabilities.md).
    let text = String::from_utf8(r.body.clone()).expect("utf-8");
    assert!(
        text.starts_with(&format!("{{\"status\":\"ok\",\"id\":\"{id}\",\"filename\":\"photo.raw\",\"size\":")),
        "{text}"
    );

    let d = http_get(srv.addr(), &format!("/file/{id}/photo.raw")).await;
    assert_eq!(d.status, 200);
    assert_eq!(d.body, data);
    assert_eq!(d.header("content-length"), Some(data.len().to_string().as_str()));
    assert_eq!(d.header("content-disposition"), Some("attachment; filename=\"photo.raw\""));
}

#[tokio::test]
async fn too_large_missing_and_malformed() {
    let srv = server(1000, 3600).await;
    // A declared body over the limit is refused before any of it is read.
    let r = http_raw(
        srv.addr(),
        b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Type: multipart/form-data; boundary=x\r\nContent-Length: 100000000\r\n\r\n",
    )
    .await;
    assert_eq!(r.status, 400, "{r:?}");
    // A file part one byte over max_size.
    let r = upload(srv.addr(), "big.bin", &[7u8; 1001]).await;
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(r.json()["status"], "error");
    // Exactly max_size is fine.
    assert_eq!(upload(srv.addr(), "ok.bin", &[7u8; 1000]).await.status, 200);
    // A chunked body that never declares its length is cut off at the limit.
    let mut req = b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Type: multipart/form-data; boundary=x\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..40 {
        req.extend_from_slice(b"400\r\n");
        req.extend_from_slice(&[b'a'; 0x400]);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    assert_eq!(http_raw(srv.addr(), &req).await.status, 400);
    // Not multipart, and multipart without a file part.
    let r = http_raw(srv.addr(), b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi").await;
    assert_eq!(r.status, 400);
    let body = b"--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--x--\r\n";
    let mut req = format!(
        "POST /upload HTTP/1.1\r\nHost: t\r\nContent-Type: multipart/form-data; boundary=x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    assert_eq!(http_raw(srv.addr(), &req).await.status, 400);
    // Missing files and unknown paths.
    assert_eq!(http_get(srv.addr(), "/file/0123456789abcdef/none.txt").await.status, 404);
    assert_eq!(http_get(srv.addr(), "/file/../../etc/passwd").await.status, 404);
    assert_eq!(http_get(srv.addr(), "/nothing-here").await.status, 404);
    // The server still serves chat after all that.
    let mut c = dmconnect_e2e::Client::connect(srv.addr()).await;
    c.expect(dmconnect_e2e::GREETING).await;
}

#[tokio::test]
async fn traversal_names_are_sanitised() {
    let srv = server(1000, 3600).await;
    let r = upload(srv.addr(), "../../../etc/evil name;rm -rf.txt", b"x").await;
    assert_eq!(r.status, 200, "{r:?}");
    let v = r.json();
    let name = v["filename"].as_str().expect("filename").to_owned();
    assert_eq!(name, "evil_name_rm_-rf.txt");
    let id = v["id"].as_str().expect("id");
    let stored = srv.data_dir().join("capabilities/http_file_upload/files").join(id).join(&name);
    assert_eq!(std::fs::read(&stored).expect("stored under the data dir"), b"x");
    let r = upload(srv.addr(), "..", b"y").await;
    assert_eq!(r.json()["filename"], "file");
    assert_eq!(http_get(srv.addr(), &format!("/file/{id}/{name}")).await.body, b"x");
}

#[tokio::test]
async fn files_expire_after_the_ttl() {
    let srv = server(1000, 1).await;
    let v = upload(srv.addr(), "short.txt", b"gone soon").await.json();
    let id = v["id"].as_str().expect("id").to_owned();
    let dir = srv.data_dir().join("capabilities/http_file_upload/files").join(&id);
    assert!(dir.exists());
    let path = format!("/file/{id}/short.txt");
    let mut status = 200;
    for _ in 0..100 {
        status = http_get(srv.addr(), &path).await.status;
        if status == 404 && !dir.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, 404);
    assert!(!dir.exists(), "the cleanup tick removed the file");
}

#[tokio::test]
async fn upload_paths_are_not_found_without_the_capability() {
    require(&["status"]);
    // The core always serves HTTP (the web app); capability paths exist only when loaded.
    let srv = TestServer::builder().capabilities(&["status"]).start().await;
    assert_eq!(http_get(srv.addr(), "/file/0123456789abcdef/x").await.status, 404);
    assert_eq!(upload(srv.addr(), "a.txt", b"hi").await.status, 404);
}
