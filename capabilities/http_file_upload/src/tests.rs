//! In-process tests through the FFI adapter with a fake host.

use super::*;
use plugin_api::loader::Plugin;
use plugin_api::serde_json::{self, Value};
use plugin_api::testing::start_in_process;
use plugin_api::testing::FakeHost;
use plugin_api::HttpBody;

fn start(config: &str) -> (Plugin, FakeHost) {
    let mut host = FakeHost::new(&[]);
    host.config = config.into();
    host.dir = std::env::temp_dir().join(format!("dmcap-upload-test-{}", files::new_id()));
    (start_in_process(HttpFileUpload::new, host.clone()).unwrap(), host)
}

fn post(p: &Plugin, filename: &str, data: &[u8]) -> (u16, Value) {
    let mut body = format!(
        "--b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(data);
    body.extend_from_slice(b"\r\n--b0undary--\r\n");
    let req = HttpRequest {
        method: "POST".into(),
        path: "/upload".into(),
        headers: vec![("content-type".into(), "multipart/form-data; boundary=b0undary".into())],
        body,
    };
    let resp = p.http(req).unwrap();
    let HttpBody::Bytes(b) = resp.body else { panic!("expected bytes") };
    (resp.status, serde_json::from_slice(&b).unwrap())
}

fn get(p: &Plugin, path: &str) -> plugin_api::HttpResponse {
    p.http(HttpRequest { method: "GET".into(), path: path.into(), headers: vec![], body: vec![] }).unwrap()
}

#[test]
fn info_lines() {
    let (p, host) = start(r#"{"max_size": 1000, "ttl_secs": 60}"#);
    let c = Caller { account: "a".into(), session_id: 1, peer_ip: "127.0.0.1".parse().unwrap(), room: None };
    assert_eq!(
        p.command("info", "", &c).unwrap().unwrap(),
        "HTTP upload endpoint: http://here.test:42439/upload\nDownload URL: http://here.test:42439/file/<id>/<filename>\n\
         Retention (TTL): 60 seconds.\nMax file size: 1000 bytes."
    );
    assert_eq!(p.info().http_max_body, 1000 + MULTIPART_OVERHEAD);
    let _ = std::fs::remove_dir_all(&host.dir);
}

#[test]
fn upload_download_and_limits() {
    let (p, host) = start(r#"{"max_size": 300}"#);
    let data: Vec<u8> = (0..=255u8).rev().collect();
    let (status, v) = post(&p, "../../evil name.bin", &data);
    assert_eq!(status, 200, "{v}");
    let id = v["id"].as_str().unwrap().to_owned();
    assert_eq!(v["filename"], "evil_name.bin");
    assert_eq!(v["size"], 256);
    assert_eq!(v["url"], format!("http://here.test:42439/file/{id}/evil_name.bin"));
    let resp = get(&p, &format!("/file/{id}/evil_name.bin"));
    assert_eq!(resp.status, 200);
    let HttpBody::File(path) = resp.body else { panic!("expected a file") };
    assert_eq!(std::fs::read(&path).unwrap(), data);
    assert!(path.starts_with(&host.dir));
    assert!(resp.headers.iter().any(|(k, v)| k == "Content-Disposition" && v.starts_with("attachment")));
    assert_eq!(get(&p, &format!("/file/{id}/other.bin")).status, 404);
    assert_eq!(get(&p, "/file/0123456789abcdef/x").status, 404);
    assert_eq!(get(&p, &format!("/file/{id}/..%2F..%2Fx")).status, 404);
    assert_eq!(post(&p, "big.bin", &[0u8; 301]).0, 400);
    let _ = std::fs::remove_dir_all(&host.dir);
}

#[test]
fn expired_files_are_gone() {
    let (p, host) = start(r#"{"ttl_secs": 1}"#);
    let (_, v) = post(&p, "a.txt", b"hello");
    let id = v["id"].as_str().unwrap().to_owned();
    let key = format!("file/{id}");
    let mut meta: Value = serde_json::from_str(&host.lock().kv[&key]).unwrap();
    meta["expires"] = 0.into();
    host.lock().kv.insert(key.clone(), meta.to_string());
    assert_eq!(get(&p, &format!("/file/{id}/a.txt")).status, 404);
    p.tick().unwrap();
    assert!(!host.dir.join("files").join(&id).exists());
    assert!(!host.lock().kv.contains_key(&key));
    let _ = std::fs::remove_dir_all(&host.dir);
}
