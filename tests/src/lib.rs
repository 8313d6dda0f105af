//! End-to-end test harness: starts the real `dmconnect` binary from the cargo
//! target directory on ephemeral loopback ports and talks to it over TCP.
//!
//! Build first (`cargo build --workspace`), so the binary and the plugin
//! `.so` files exist next to each other.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

pub mod cluster;
pub mod lines;

/// How long `recv` waits for a line.
pub const RECV_TIMEOUT: Duration = Duration::from_secs(5);

/// The greeting (docs/protocol.md §3).
pub const GREETING: &str = "Enter command (/login /register):";

/// The cargo target directory holding `dmconnect` and the `libdmcap_*.so` files.
pub fn target_dir() -> PathBuf {
    // tests run from target/<profile>/deps/<test-binary>
    let exe = std::env::current_exe().expect("test binary path");
    let deps = exe.parent().expect("deps dir");
    deps.parent().expect("profile dir").to_path_buf()
}

/// Path of the server binary.
pub fn server_binary() -> PathBuf {
    let p = target_dir().join("dmconnect");
    assert!(p.exists(), "{} is missing: run `cargo build --workspace` first", p.display());
    p
}

/// A fresh temporary directory.
pub fn temp_dir(tag: &str) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "dmc-e2e-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// Builds a [`TestServer`].
#[derive(Default, Clone)]
pub struct Builder {
    server_keys: Vec<(String, String)>,
    capabilities: Vec<String>,
    plugin_dir: Option<PathBuf>,
    plugin_dirs: Vec<PathBuf>,
    toml: String,
    encrypted: bool,
    tls: Option<(PathBuf, PathBuf)>,
    listen_ip: Option<String>,
    listen_port: u16,
    data_dir: Option<PathBuf>,
    argon2_memory_kib: Option<u32>,
}

impl Builder {
    /// An extra `key = value` (value in TOML syntax) under `[server]`.
    pub fn server_key(mut self, key: &str, value: &str) -> Self {
        self.server_keys.push((key.into(), value.into()));
        self
    }
    /// Capabilities to enable, loaded from the target dir.
    pub fn capabilities(mut self, names: &[&str]) -> Self {
        self.capabilities = names.iter().map(|s| s.to_string()).collect();
        self
    }
    /// Load plugins from this directory instead of the target dir.
    pub fn plugin_dir(mut self, dir: &Path) -> Self {
        self.plugin_dir = Some(dir.to_path_buf());
        self
    }
    /// An operator's plugin directory (`[capabilities] dirs`), searched before the bundled one.
    pub fn plugin_dirs_add(mut self, dir: &Path) -> Self {
        self.plugin_dirs.push(dir.to_path_buf());
        self
    }
    /// Extra raw TOML sections.
    pub fn toml(mut self, text: &str) -> Self {
        self.toml.push_str(text);
        self.toml.push('\n');
        self
    }
    /// Also listen on an ephemeral encrypted port.
    pub fn encrypted(mut self, on: bool) -> Self {
        self.encrypted = on;
        self
    }
    /// Also listen with TLS on an ephemeral port.
    pub fn tls(mut self, cert: &Path, key: &Path) -> Self {
        self.tls = Some((cert.into(), key.into()));
        self
    }
    /// Listen on this loopback IP (federation tests use 127.0.0.x).
    pub fn listen_ip(mut self, ip: &str) -> Self {
        self.listen_ip = Some(ip.into());
        self
    }
    /// Listen on this port instead of an ephemeral one (federation peers must know it up front).
    pub fn listen_port(mut self, port: u16) -> Self {
        self.listen_port = port;
        self
    }
    /// argon2 memory cost in KiB (default 1024: cheap hashes for fast tests).
    pub fn argon2_memory_kib(mut self, kib: u32) -> Self {
        self.argon2_memory_kib = Some(kib);
        self
    }
    /// Use this data directory (kept across restarts).
    pub fn data_dir(mut self, dir: &Path) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// Writes the config and starts the server; returns once it listens.
    pub async fn start(self) -> TestServer {
        let dir = temp_dir("srv");
        let data = self.data_dir.clone().unwrap_or_else(|| dir.join("data"));
        let ip = self.listen_ip.clone().unwrap_or_else(|| "127.0.0.1".into());
        let mut cfg = String::from("[server]\n");
        cfg += &format!("listen = \"{ip}:{}\"\n", self.listen_port);
        cfg += &format!("data_dir = {:?}\n", data.to_string_lossy());
        cfg += &format!("encrypted_listen = \"{}\"\n", if self.encrypted { format!("{ip}:0") } else { String::new() });
        if let Some((cert, key)) = &self.tls {
            cfg += &format!(
                "tls_listen = \"{ip}:0\"\ntls_cert = {:?}\ntls_key = {:?}\n",
                cert.to_string_lossy(),
                key.to_string_lossy()
            );
        }
        for (k, v) in &self.server_keys {
            cfg += &format!("{k} = {v}\n");
        }
        cfg +=
            &format!("[auth]\nargon2_memory_kib = {}\nargon2_iterations = 1\n", self.argon2_memory_kib.unwrap_or(1024));
        cfg += "[capabilities]\n";
        let pdir = self.plugin_dir.clone().unwrap_or_else(target_dir);
        cfg += &format!("dir = {:?}\n", pdir.to_string_lossy());
        let dirs: Vec<String> = self.plugin_dirs.iter().map(|d| format!("{:?}", d.to_string_lossy())).collect();
        if !dirs.is_empty() {
            cfg += &format!("dirs = [{}]\n", dirs.join(", "));
        }
        let names: Vec<String> = self.capabilities.iter().map(|n| format!("{n:?}")).collect();
        cfg += &format!("enabled = [{}]\n", names.join(", "));
        cfg += &self.toml;
        let config_path = dir.join("dmconnect.toml");
        std::fs::write(&config_path, cfg).expect("write config");
        let mut srv = TestServer {
            builder: self,
            dir,
            config_path,
            data,
            child: None,
            logs: Arc::default(),
            plain: "0.0.0.0:0".parse().expect("addr"),
            encrypted: None,
            tls: None,
            http: None,
            metrics: None,
        };
        srv.spawn().await;
        srv
    }
}

/// A running `dmconnect serve` process.
pub struct TestServer {
    builder: Builder,
    dir: PathBuf,
    config_path: PathBuf,
    data: PathBuf,
    child: Option<Child>,
    logs: Arc<Mutex<String>>,
    plain: SocketAddr,
    encrypted: Option<SocketAddr>,
    tls: Option<SocketAddr>,
    http: Option<SocketAddr>,
    metrics: Option<SocketAddr>,
}

impl TestServer {
    /// A builder with defaults: loopback, temp data dir, no capabilities.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// A server with all defaults.
    pub async fn start() -> TestServer {
        Builder::default().start().await
    }

    async fn spawn(&mut self) {
        let ready = self.dir.join("ready.json");
        let _ = std::fs::remove_file(&ready);
        let mut child = Command::new(server_binary())
            .arg("serve")
            .arg("--config")
            .arg(&self.config_path)
            .arg("--ready-file")
            .arg(&ready)
            .env("RUST_LOG", std::env::var("DMC_TEST_LOG").unwrap_or_else(|_| "info".into()))
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn dmconnect");
        let stderr = child.stderr.take().expect("stderr");
        let logs = self.logs.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(l)) = lines.next_line().await {
                if std::env::var("DMC_TEST_ECHO").is_ok() {
                    eprintln!("[server] {l}");
                }
                let mut g = logs.lock().unwrap_or_else(|p| p.into_inner());
                g.push_str(&l);
                g.push('\n');
            }
        });
        self.child = Some(child);
        for _ in 0..500 {
            if let Ok(text) = std::fs::read_to_string(&ready) {
                let v: serde_json::Value = serde_json::from_str(&text).expect("ready json");
                let addr = |k: &str| v[k].as_str().map(|s| s.parse().expect("addr"));
                self.plain = addr("plain").expect("plain addr");
                self.encrypted = addr("encrypted");
                self.tls = addr("tls");
                self.http = addr("http");
                self.metrics = addr("metrics");
                return;
            }
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    panic!("server exited with {status} before listening; logs:\n{}", self.logs());
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("server did not start within 10 s; logs:\n{}", self.logs());
    }

    /// The plain port.
    pub fn addr(&self) -> SocketAddr {
        self.plain
    }
    /// The encrypted port, if enabled.
    pub fn encrypted_addr(&self) -> Option<SocketAddr> {
        self.encrypted
    }
    /// The TLS port, if enabled.
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.tls
    }
    /// The HTTP-only port, if `[server] http_listen` was set.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http
    }
    /// The metrics endpoint, if `[metrics] listen` was set.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics
    }
    /// The data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.data.clone()
    }
    /// The generated config file.
    pub fn config_path(&self) -> PathBuf {
        self.config_path.clone()
    }
    /// What the server logged so far.
    pub fn logs(&self) -> String {
        self.logs.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().and_then(|c| c.id()).expect("running")
    }

    /// Waits until the logs contain `needle` (up to 5 s).
    pub async fn wait_for_log(&self, needle: &str) {
        for _ in 0..250 {
            if self.logs().contains(needle) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("log line {needle:?} never appeared; logs:\n{}", self.logs());
    }

    /// SIGTERM and wait for the exit (the graceful path).
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Some(pid) = child.id() {
                let _ = std::process::Command::new("kill").arg("-TERM").arg(pid.to_string()).status();
            }
            let status = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
            assert!(
                matches!(status, Ok(Ok(s)) if s.success()),
                "server did not stop cleanly: {status:?}\n{}",
                self.logs()
            );
        }
    }

    /// SIGKILL (a crash).
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    /// Starts the same server again (same config and data dir; new ports).
    pub async fn restart(&mut self) {
        if self.child.is_some() {
            self.stop().await;
        }
        let _ = &self.builder;
        self.spawn().await;
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
        // Keep the files of a failed test for a look; clean up after a passing one.
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A line-oriented test client.
pub struct Client {
    rd: BufReader<OwnedReadHalf>,
    wr: OwnedWriteHalf,
    /// The account name, once logged in through a helper.
    pub name: String,
}

impl Client {
    /// Connects; the greeting is NOT consumed.
    pub async fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        let (rd, wr) = stream.into_split();
        Client { rd: BufReader::new(rd), wr, name: String::new() }
    }

    /// Wraps an already connected stream (e.g. one with small socket buffers); the greeting is NOT consumed.
    pub fn from_stream(stream: TcpStream) -> Client {
        stream.set_nodelay(true).expect("nodelay");
        let (rd, wr) = stream.into_split();
        Client { rd: BufReader::new(rd), wr, name: String::new() }
    }

    /// The buffered read half and the write half, for reading and writing at once.
    pub fn into_parts(self) -> (BufReader<OwnedReadHalf>, OwnedWriteHalf) {
        (self.rd, self.wr)
    }

    /// Connects from a chosen loopback source address (e.g. `127.0.0.2`), so one test
    /// can act as several IPs; the greeting is NOT consumed.
    pub async fn connect_from(addr: SocketAddr, source_ip: &str) -> Client {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.bind(SocketAddr::new(source_ip.parse().expect("ip"), 0)).expect("bind source ip");
        let stream = socket.connect(addr).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        let (rd, wr) = stream.into_split();
        Client { rd: BufReader::new(rd), wr, name: String::new() }
    }

    /// Sends a line terminated with `\r\n`.
    pub async fn send(&mut self, line: &str) {
        self.wr.write_all(format!("{line}\r\n").as_bytes()).await.expect("send");
    }

    /// Sends raw bytes as they are.
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.wr.write_all(bytes).await.expect("send");
    }

    /// Sends a bare packet (no terminator), then pauses so it stands alone.
    pub async fn send_bare(&mut self, msg: &str) {
        self.wr.write_all(msg.as_bytes()).await.expect("send");
        tokio::time::sleep(Duration::from_millis(30)).await;
    }

    /// The next line, without its `\n`; panics after [`RECV_TIMEOUT`].
    pub async fn recv(&mut self) -> String {
        match self.try_recv(RECV_TIMEOUT).await {
            Some(l) => l,
            None => panic!("no line within {RECV_TIMEOUT:?} (client {})", self.name),
        }
    }

    /// The next line within `t`, or `None` on timeout or EOF.
    pub async fn try_recv(&mut self, t: Duration) -> Option<String> {
        let mut buf = Vec::new();
        match tokio::time::timeout(t, self.rd.read_until(b'\n', &mut buf)).await {
            Ok(Ok(n)) if n > 0 => {
                assert_eq!(buf.last(), Some(&b'\n'), "line without terminator: {:?}", String::from_utf8_lossy(&buf));
                buf.pop();
                Some(String::from_utf8(buf).expect("server sent invalid UTF-8"))
            }
            _ => None,
        }
    }

    /// Asserts the next line.
    pub async fn expect(&mut self, line: &str) {
        let got = self.recv().await;
        assert_eq!(got, line, "client {} expected {line:?}", self.name);
    }

    /// Asserts the next lines, in order.
    pub async fn expect_lines(&mut self, lines: &[&str]) {
        for l in lines {
            self.expect(l).await;
        }
    }

    /// Asserts that nothing is queued for this client: a keep-alive's answer is the
    /// next line (a marker; deliveries caused by others' finished commands are queued already).
    pub async fn expect_nothing_queued(&mut self) {
        self.send("/").await;
        self.expect("*Ping*").await;
    }

    /// Asserts that no line arrives within `ms` milliseconds. Only for what has no
    /// marker (a disconnect, a peer host); prefer [`Client::expect_nothing_queued`].
    pub async fn expect_nothing(&mut self, ms: u64) {
        if let Some(l) = self.try_recv(Duration::from_millis(ms)).await {
            panic!("client {} expected nothing, got {l:?}", self.name);
        }
    }

    /// True once the server closed the connection (EOF within `ms`), skipping any lines before it.
    pub async fn closed_within(&mut self, ms: u64) -> bool {
        let deadline = tokio::time::Instant::now() + Duration::from_millis(ms);
        let mut buf = [0u8; 4096];
        loop {
            match tokio::time::timeout_at(deadline, self.rd.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => continue,
                Err(_) => return false,
            }
        }
    }

    /// Registers (if needed) and logs in; consumes every line up to the login block.
    pub async fn login_new(addr: SocketAddr, name: &str, password: &str) -> Client {
        Client::login_new_on(Client::connect(addr).await, name, password).await
    }

    /// [`Client::login_new`] on a connection made by the caller (greeting not yet read).
    pub async fn login_new_on(mut c: Client, name: &str, password: &str) -> Client {
        c.name = name.into();
        c.expect(GREETING).await;
        c.send(&format!("/register {name} {password}")).await;
        let r = c.recv().await;
        assert!(
            r == "Registration successful. Please log in." || r == "Username already taken. Try another.",
            "register {name}: {r}"
        );
        c.expect(GREETING).await;
        c.login_only(name, password).await;
        c
    }

    /// Logs in an existing account on a fresh connection.
    pub async fn login(addr: SocketAddr, name: &str, password: &str) -> Client {
        let mut c = Client::connect(addr).await;
        c.name = name.into();
        c.expect(GREETING).await;
        c.login_only(name, password).await;
        c
    }

    async fn login_only(&mut self, name: &str, password: &str) {
        self.send(&format!("/login {name} {password}")).await;
        self.expect("Login successful.").await;
        let servers = self.recv().await;
        assert!(servers.starts_with("Available servers: "), "{servers}");
        self.expect("Select a server using /join_server <server_name>.").await;
    }

    /// Joins a subserver as the account's first session there: expects the reply and its own join notice.
    pub async fn join(&mut self, room: &str) {
        self.send(&format!("/join_server {room}")).await;
        self.expect(&format!("Joined server '{room}' successfully.")).await;
        let who = self.name.clone();
        self.expect(&format!("*** {who} has joined the server.")).await;
    }
}

/// What a finished `dmconnect` command printed.
pub struct CliOutput {
    /// Exit status was zero.
    pub ok: bool,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// Runs `dmconnect ARGS` with `stdin` and the environment `env`; the config-discovery
/// variables are cleared first (and the system path pointed nowhere) unless `env` sets them.
pub fn run_cli(args: &[&str], env: &[(&str, &str)], stdin: &str) -> CliOutput {
    use std::io::Write;
    let mut cmd = std::process::Command::new(server_binary());
    cmd.args(args)
        .env_remove("DMCONNECT_CONFIG")
        .env("DMCONNECT_SYSTEM_CONFIG", "/nonexistent/dmconnect.toml")
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn dmconnect");
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write stdin");
    let out = child.wait_with_output().expect("dmconnect ran");
    CliOutput {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

impl TestServer {
    /// Runs `dmconnect ARGS --config <this server's config>`; panics unless it succeeds.
    pub fn cli(&self, args: &[&str], stdin: &str) -> String {
        let out = self.cli_result(args, stdin);
        assert!(out.ok, "dmconnect {args:?} failed: {}", out.stderr);
        out.stdout
    }

    /// Like [`TestServer::cli`], but returns the outcome whatever it is.
    pub fn cli_result(&self, args: &[&str], stdin: &str) -> CliOutput {
        let cfg = self.config_path.to_string_lossy().into_owned();
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--config", &cfg]);
        run_cli(&all, &[], stdin)
    }
}
