//! Uploads in cluster mode: with `[capabilities] files_dir` on storage every
//! node shares (one directory here; NFS or similar in production) and the file
//! records in PostgreSQL, a file uploaded through node A downloads from node B.
//! Skipped with a note unless `DMC_PG_URL` and `DMC_NATS_URL` are set.

mod cap_support;

use cap_support::{http_get, require, upload};
use dmconnect_e2e::cluster::{cluster_toml, services, Services};
use dmconnect_e2e::{temp_dir, Client, TestServer};
use std::path::Path;

async fn node(n: u8, svc: &Services, shared: &Path) -> TestServer {
    TestServer::builder()
        .listen_ip(&format!("127.0.0.{}", n + 1))
        .server_key("host", &format!("{:?}", svc.host))
        .capabilities(&["http_file_upload"])
        // Lands in [capabilities], which the harness writes just before.
        .toml(&format!("files_dir = {:?}", shared.to_string_lossy()))
        .toml(&cluster_toml(n, &svc.db, &svc.nats))
        .toml("[capabilities.http_file_upload]\nmax_size = 100000\nrequire_token = true")
        .start()
        .await
}

#[tokio::test]
async fn a_file_uploaded_to_one_node_downloads_from_another() {
    require(&["http_file_upload"]);
    let Some(svc) = services("uploads").await else { return };
    let shared = temp_dir("shared-files");
    let (a, b) = (node(0, &svc, &shared).await, node(1, &svc, &shared).await);

    // A token made on node B is good on node A (the key is in shared storage).
    let mut c = Client::login_new(b.addr(), "alice", "pw").await;
    c.send("/http_file_upload-token").await;
    let line = c.recv().await;
    let token = line.rsplit_once("token=").map(|(_, t)| t.to_owned()).unwrap_or_else(|| panic!("{line:?}"));

    let data: Vec<u8> = (0..30_000u32).map(|i| (i % 253) as u8).collect();
    let body = cap_support::multipart("XyZzy", "shared.bin", &data);
    let mut req = format!(
        "POST /upload?token={token} HTTP/1.1\r\nHost: t\r\nContent-Type: multipart/form-data; boundary=XyZzy\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(&body);
    let r = cap_support::http_raw(a.addr(), &req).await;
    assert_eq!(r.status, 200, "{r:?}");
    let id = r.json()["id"].as_str().expect("id").to_owned();

    for node in [&b, &a] {
        let d = http_get(node.addr(), &format!("/file/{id}/shared.bin")).await;
        assert_eq!(d.status, 200, "{d:?}");
        assert_eq!(d.body, data);
    }
    // Without a token, refused on either node.
    assert_eq!(upload(b.addr(), "x.bin", b"x").await.status, 403);
    let _ = std::fs::remove_dir_all(&shared);
}
