//! The web app in a real headless Chromium (chromedriver, driven with fantoccini):
//! two browser users and one plain-TCP user chat, act, see join/leave notices and
//! PMs; hostile lines stay text; an upload shows as a link and preview; the app
//! reconnects after a server restart. Saves a screenshot of the chat view.
//!
//! Needs /usr/bin/chromium and /usr/bin/chromedriver (`scripts/install-browser.sh`).
//! Without them the test passes with a note, unless `DMC_REQUIRE_BROWSER=1`.

mod cap_support;

use cap_support::require;
use dmconnect_e2e::{temp_dir, Client, TestServer};
use fantoccini::{Client as Browser, ClientBuilder, Locator};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// Every wait in this test is bounded by this.
const WAIT: Duration = Duration::from_secs(15);
/// A small gradient picture as PNG (uncompressed deflate; enough for a preview).
fn png(w: u32, h: u32) -> Vec<u8> {
    fn crc32(data: &[u8]) -> u32 {
        let mut c = !0u32;
        for &b in data {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = if c & 1 != 0 { 0xedb8_8320 ^ (c >> 1) } else { c >> 1 };
            }
        }
        !c
    }
    fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let start = out.len();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let crc = crc32(&out[start..]);
        out.extend_from_slice(&crc.to_be_bytes());
    }
    let mut raw = Vec::new();
    for y in 0..h {
        raw.push(0);
        for x in 0..w {
            raw.extend_from_slice(&[(40 + x * 200 / w) as u8, (90 + y * 120 / h) as u8, 230]);
        }
    }
    assert!(raw.len() < 65_536, "one stored deflate block");
    let (mut a, mut b) = (1u32, 0u32);
    for &x in &raw {
        a = (a + u32::from(x)) % 65_521;
        b = (b + a) % 65_521;
    }
    let mut z = vec![0x78, 0x01, 0x01];
    z.extend_from_slice(&(raw.len() as u16).to_le_bytes());
    z.extend_from_slice(&(!(raw.len() as u16)).to_le_bytes());
    z.extend_from_slice(&raw);
    z.extend_from_slice(&((b << 16) | a).to_be_bytes());
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &z);
    chunk(&mut out, b"IEND", &[]);
    out
}

/// chromedriver on a free port, killed when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    async fn start(dir: &Path) -> Driver {
        let port = free_port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", dir.join("chromedriver.log").display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start chromedriver");
        let deadline = tokio::time::Instant::now() + WAIT;
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(tokio::time::Instant::now() < deadline, "chromedriver did not listen within {WAIT:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Driver { child, url: format!("http://127.0.0.1:{port}") }
    }

    /// A new headless browser with its own fresh profile.
    async fn browser(&self, profile: &Path) -> Browser {
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=1100,720",
        ];
        let mut args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        let caps = json!({"goog:chromeOptions": {"binary": CHROMIUM, "args": args}});
        let Value::Object(caps) = caps else { unreachable!() };
        let mut builder = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
        builder.capabilities(caps);
        tokio::time::timeout(WAIT, builder.connect(&self.url))
            .await
            .expect("browser start timed out")
            .expect("browser session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// Waits until a JavaScript expression is true in the page.
async fn until(b: &Browser, what: &str, expr: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let got = b.execute(&format!("return !!({expr});"), vec![]).await;
        if matches!(got, Ok(Value::Bool(true))) {
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            let log = b.execute("return document.getElementById('log').innerText", vec![]).await;
            panic!("timed out waiting for {what} ({expr}); last result {got:?}; #log: {log:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn js_str(s: &str) -> String {
    serde_json::to_string(s).expect("json string")
}

/// True once some `#log .line` contains `text` literally.
fn log_has(text: &str) -> String {
    format!("[...document.querySelectorAll('#log .line')].some(l => l.textContent.includes({}))", js_str(text))
}

async fn status_is(b: &Browser, s: &str) {
    until(b, &format!("status {s}"), &format!("document.getElementById('status').textContent === {}", js_str(s))).await;
}

async fn type_into(b: &Browser, css: &str, text: &str) {
    let e = b.find(Locator::Css(css)).await.expect(css);
    e.clear().await.expect("clear");
    e.send_keys(text).await.expect("type");
}

/// Clicks an element; lists re-render on server lines, so a stale element is looked up again.
async fn click(b: &Browser, css: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let res = match b.find(Locator::Css(css)).await {
            Ok(e) => e.click().await,
            Err(e) => Err(e),
        };
        match res {
            Ok(()) => return,
            Err(e) if tokio::time::Instant::now() >= deadline => panic!("cannot click {css}: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

async fn say(b: &Browser, text: &str) {
    type_into(b, "#message", text).await;
    click(b, "#send").await;
}

/// Opens the app, registers `name` and waits until it joined `general`.
async fn register(driver: &Driver, dir: &Path, url: &str, name: &str) -> Browser {
    let b = driver.browser(&dir.join(format!("profile-{name}"))).await;
    b.goto(url).await.expect("open the app");
    status_is(&b, "connected").await;
    type_into(&b, "#username", name).await;
    type_into(&b, "#password", "pw").await;
    click(&b, "#register").await;
    until(&b, "joined general", "document.querySelector('#rooms [data-room=\"general\"].current')").await;
    status_is(&b, "connected").await;
    b
}

fn browser_present() -> bool {
    let present = Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists();
    if !present {
        assert!(
            std::env::var("DMC_REQUIRE_BROWSER").as_deref() != Ok("1"),
            "DMC_REQUIRE_BROWSER=1 but {CHROMIUM} or {CHROMEDRIVER} is missing (run scripts/install-browser.sh)"
        );
        eprintln!("skipped: {CHROMIUM} or {CHROMEDRIVER} missing (run scripts/install-browser.sh)");
    }
    present
}

#[tokio::test]
async fn two_browsers_and_a_telnet_user_chat() {
    if !browser_present() {
        return;
    }
    require(&["status", "ignore", "http_file_upload"]);
    let dir = temp_dir("browser");
    let port = free_port();
    let mut srv =
        TestServer::builder().listen_port(port).capabilities(&["status", "ignore", "http_file_upload"]).start().await;
    let url = format!("http://127.0.0.1:{port}/");
    let driver = Driver::start(&dir).await;

    let alice = register(&driver, &dir, &url, "alice").await;
    let bob = register(&driver, &dir, &url, "bob").await;
    until(&alice, "bob's join notice", &log_has("*** bob has joined the server.")).await;
    let mut carol = Client::login_new(srv.addr(), "carol", "pw").await;
    carol.join("general").await;
    for b in [&alice, &bob] {
        until(b, "carol's join notice", &log_has("*** carol has joined the server.")).await;
        until(b, "members panel", "document.querySelector('#members [data-user=\"carol\"]')").await;
    }

    // Chat and actions, both ways between browsers and telnet.
    say(&alice, "hello from alice").await;
    until(&bob, "alice's line", &log_has("alice: hello from alice")).await;
    carol.expect("alice: hello from alice").await;
    carol.send("hi from telnet").await;
    carol.expect("carol: hi from telnet").await;
    until(&alice, "carol's line", &log_has("carol: hi from telnet")).await;
    say(&bob, "/act waves.").await;
    carol.expect("*** bob waves.").await;
    until(
        &alice,
        "bob's action",
        "[...document.querySelectorAll('#log .line.action')].some(l => l.textContent.includes('bob waves.'))",
    )
    .await;

    // Hostile lines are text: no element made from them, no alert, no javascript: link.
    carol.send("<img src=x onerror=alert(1)>").await;
    carol.expect("carol: <img src=x onerror=alert(1)>").await;
    carol.send("javascript:alert(1) and http://example.invalid/ok").await;
    carol.expect("carol: javascript:alert(1) and http://example.invalid/ok").await;
    until(&alice, "hostile line", &log_has("carol: <img src=x onerror=alert(1)>")).await;
    until(&alice, "link line", &log_has("javascript:alert(1)")).await;
    let safe =
        "!document.querySelector('#log img:not(.preview)') && !document.querySelector('#log a[href^=\"javascript\"]') \
                && document.querySelector('#log a[href=\"http://example.invalid/ok\"][rel=\"noopener noreferrer\"]')";
    until(&alice, "no element from hostile text", safe).await;
    assert!(alice.get_alert_text().await.is_err(), "an alert fired");

    // Private messages: grouped per person with an unread count, answered from the PM view.
    carol.send("/pm alice a secret").await;
    carol.expect("Private message sent to alice.").await;
    until(&alice, "unread badge", "document.querySelector('#pms [data-user=\"carol\"] .badge')?.textContent === '1'")
        .await;
    click(&alice, "#pms [data-user=\"carol\"] button").await;
    until(&alice, "the PM", &log_has("carol: a secret")).await;
    say(&alice, "a reply").await;
    carol.expect("(Private) alice: a reply").await;
    until(&alice, "own PM shown", &log_has("alice: a reply")).await;
    click(&alice, "#rooms [data-room=\"general\"] button").await;
    until(&alice, "room view again", &log_has("carol: hi from telnet")).await;

    // An upload becomes a link, and an image preview for the others.
    let png_path = dir.join("sunset.png");
    std::fs::write(&png_path, png(96, 48)).expect("write png");
    until(&alice, "upload button", "!document.getElementById('attach').hidden").await;
    alice
        .find(Locator::Css("#file-input"))
        .await
        .expect("file input")
        .send_keys(&png_path.to_string_lossy())
        .await
        .expect("pick file");
    let line = carol.recv().await;
    assert!(line.starts_with("alice: http://") && line.ends_with("/sunset.png"), "{line}");
    until(&bob, "upload link", "document.querySelector('#log a[href$=\"/sunset.png\"]')").await;
    until(&bob, "image preview", "document.querySelector('#log img.preview')?.naturalWidth === 96").await;

    carol.send("/pm bob nice picture").await;
    carol.expect("Private message sent to bob.").await;
    until(&bob, "bob's unread badge", "document.querySelector('#pms [data-user=\"carol\"] .badge')").await;
    let shot = save_screenshot(&bob, &dir).await;
    println!("screenshot of the chat view: {}", shot.display());

    // Leave notices, then a restart: the app reconnects, logs in again and rejoins.
    bob.close().await.expect("close bob");
    until(&alice, "bob's leave notice", &log_has("*** bob has left the server.")).await;
    carol.expect("*** bob has left the server.").await;
    drop(carol);
    srv.stop().await;
    status_is(&alice, "reconnecting").await;
    srv.restart().await;
    status_is(&alice, "connected").await;
    let mut carol = Client::login(srv.addr(), "carol", "pw").await;
    carol.join("general").await;
    // Keyboard only: Enter in the message box sends.
    type_into(&alice, "#message", "back again\u{E007}").await;
    carol.expect("alice: back again").await;

    // Phone width: the side panels become drawers behind buttons.
    alice.set_window_size(390, 800).await.expect("resize");
    let side_hidden = "getComputedStyle(document.getElementById('side')).display === 'none'";
    until(&alice, "phone layout", side_hidden).await;
    click(&alice, "#toggle-side").await;
    until(&alice, "room drawer", &format!("!({side_hidden}) && document.querySelector('#rooms [data-room]')")).await;
    let phone = alice.screenshot().await.expect("phone screenshot");
    std::fs::write(dir.join("web-client-phone.png"), phone).expect("write phone screenshot");
    alice.close().await.expect("close alice");
}

/// Saves a PNG of the page into `dir` (and to `DMC_SCREENSHOT` when set, for the docs).
async fn save_screenshot(b: &Browser, dir: &Path) -> PathBuf {
    let png = b.screenshot().await.expect("screenshot");
    let path = dir.join("web-client.png");
    std::fs::write(&path, &png).expect("write screenshot");
    if let Ok(extra) = std::env::var("DMC_SCREENSHOT") {
        std::fs::write(&extra, &png).expect("write DMC_SCREENSHOT");
    }
    path
}
