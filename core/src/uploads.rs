//! Upload budgets (`[limits]` `uploads_per_ip_per_hour`, `upload_quota_bytes`,
//! `upload_inflight_bytes`) and receiving a request body within them: into a
//! temporary file under the capabilities' files directory (never whole in
//! memory), or into memory for capabilities that take bodies that way.

use crate::config::LimitsConfig;
use crate::limits::{client_key, KeyedRate};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::StatusCode;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

/// Temporary bodies live here, under the files directory.
pub const INCOMING: &str = ".incoming";
/// The files directory is measured again after this long (uploads since are added up meanwhile).
const RESCAN: Duration = Duration::from_secs(5);

/// Why an upload is refused: an HTTP status and one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub StatusCode, pub String);

fn refusal(status: StatusCode, text: &str) -> Refusal {
    Refusal(status, text.to_owned())
}

/// Bytes on disk under the files directory, measured now and then.
#[derive(Default)]
struct Usage {
    scanned: u64,
    at: Option<Instant>,
    /// Bodies completed since the scan.
    added: u64,
}

/// The server-wide upload budgets.
pub struct Uploads {
    root: PathBuf,
    per_ip: KeyedRate<IpAddr>,
    quota: u64,
    inflight_cap: u64,
    inflight: Arc<AtomicU64>,
    usage: Mutex<Usage>,
}

/// An admitted body: holds its share of `upload_inflight_bytes` until dropped.
pub struct Ticket {
    inflight: Arc<AtomicU64>,
    cap: u64,
    held: u64,
}

impl Ticket {
    /// Holds `want` bytes in total (never less than already held); false when over the cap.
    fn hold(&mut self, want: u64) -> bool {
        if want <= self.held {
            return true;
        }
        let more = want - self.held;
        let before = self.inflight.fetch_add(more, Ordering::SeqCst);
        if self.cap != 0 && before + more > self.cap {
            self.inflight.fetch_sub(more, Ordering::SeqCst);
            return false;
        }
        self.held = want;
        true
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.inflight.fetch_sub(self.held, Ordering::SeqCst);
    }
}

/// A request body saved to a temporary file; the file is removed when this is dropped
/// (after the handler, or on any failure while receiving).
pub struct TempBody {
    path: PathBuf,
}

impl TempBody {
    /// Where the body is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempBody {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_file(&self.path) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!("cannot remove {}: {e}", self.path.display());
            }
        }
    }
}

/// Where received bytes go.
enum Sink {
    File(tokio::fs::File),
    Memory(Vec<u8>),
}

fn too_busy() -> Refusal {
    refusal(StatusCode::SERVICE_UNAVAILABLE, "Too many uploads in progress; try again later.")
}

fn full() -> Refusal {
    refusal(StatusCode::INSUFFICIENT_STORAGE, "Upload storage is full; try again later.")
}

impl Uploads {
    /// The budgets from `[limits]`; `root` is the capabilities' files directory.
    pub fn new(cfg: &LimitsConfig, root: PathBuf) -> Self {
        Uploads {
            root,
            per_ip: KeyedRate::per_hour(cfg.uploads_per_ip_per_hour),
            quota: cfg.upload_quota_bytes,
            inflight_cap: cfg.upload_inflight_bytes,
            inflight: Arc::default(),
            usage: Mutex::default(),
        }
    }

    /// Bytes of bodies being received now.
    pub fn inflight(&self) -> u64 {
        self.inflight.load(Ordering::SeqCst)
    }

    /// Admits a body from `ip` (`declared`: its Content-Length, if sent): charges the
    /// address's hourly budget and holds the declared bytes in flight. `to_disk`
    /// bodies must also fit the disk quota.
    pub async fn admit(&self, ip: IpAddr, declared: Option<u64>, to_disk: bool) -> Result<Ticket, Refusal> {
        let mut t = Ticket { inflight: self.inflight.clone(), cap: self.inflight_cap, held: 0 };
        if !t.hold(declared.unwrap_or(0)) {
            return Err(too_busy());
        }
        if to_disk && !self.fits().await {
            return Err(full());
        }
        if !self.per_ip.allow(&client_key(ip)) {
            return Err(refusal(StatusCode::TOO_MANY_REQUESTS, "Too many uploads from your address; try again later."));
        }
        Ok(t)
    }

    /// Does what is on disk plus everything in flight (this body's held bytes too)
    /// fit under `upload_quota_bytes`?
    async fn fits(&self) -> bool {
        if self.quota == 0 {
            return true;
        }
        let stale = self.lock_usage().at.is_none_or(|at| at.elapsed() >= RESCAN);
        if stale {
            let root = self.root.clone();
            let scanned = tokio::task::spawn_blocking(move || dir_bytes(&root, true)).await.unwrap_or(0);
            let mut u = self.lock_usage();
            *u = Usage { scanned, at: Some(Instant::now()), added: 0 };
        }
        let u = self.lock_usage();
        u.scanned + u.added + self.inflight() <= self.quota
    }

    fn lock_usage(&self) -> std::sync::MutexGuard<'_, Usage> {
        self.usage.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Receives a body into a temporary file under the files directory.
    pub async fn to_file(
        &self,
        t: &mut Ticket,
        body: Incoming,
        max: u64,
        limit: Duration,
    ) -> Result<TempBody, Refusal> {
        let dir = self.root.join(INCOMING);
        tokio::fs::create_dir_all(&dir).await.map_err(|e| self.io_failed(&dir, e))?;
        let temp = TempBody { path: dir.join(format!("{:016x}.part", rand::random::<u64>())) };
        let file = tokio::fs::File::create(&temp.path).await.map_err(|e| self.io_failed(&temp.path, e))?;
        match self.receive(t, body, max, limit, Sink::File(file), true).await? {
            Sink::File(mut f) => f.flush().await.map_err(|e| self.io_failed(&temp.path, e))?,
            Sink::Memory(_) => {}
        }
        Ok(temp)
    }

    /// Receives a body into memory (for capabilities that take it that way).
    pub async fn to_memory(
        &self,
        t: &mut Ticket,
        body: Incoming,
        max: u64,
        limit: Duration,
    ) -> Result<Vec<u8>, Refusal> {
        match self.receive(t, body, max, limit, Sink::Memory(Vec::new()), false).await? {
            Sink::Memory(v) => Ok(v),
            Sink::File(_) => Ok(Vec::new()),
        }
    }

    fn io_failed(&self, path: &Path, e: std::io::Error) -> Refusal {
        tracing::error!("upload: {}: {e}", path.display());
        refusal(StatusCode::INTERNAL_SERVER_ERROR, "Could not store the upload.")
    }

    async fn receive(
        &self,
        t: &mut Ticket,
        body: Incoming,
        max: u64,
        limit: Duration,
        sink: Sink,
        to_disk: bool,
    ) -> Result<Sink, Refusal> {
        match tokio::time::timeout(limit, self.pump(t, body, max, sink, to_disk)).await {
            Ok(r) => r,
            Err(_) => Err(refusal(StatusCode::REQUEST_TIMEOUT, "Request body too slow")),
        }
    }

    async fn pump(
        &self,
        t: &mut Ticket,
        mut body: Incoming,
        max: u64,
        mut sink: Sink,
        to_disk: bool,
    ) -> Result<Sink, Refusal> {
        let mut got: u64 = 0;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| refusal(StatusCode::BAD_REQUEST, &format!("Bad request body: {e}")))?;
            let Ok(data) = frame.into_data() else { continue };
            got += data.len() as u64;
            if got > max {
                return Err(refusal(StatusCode::BAD_REQUEST, &format!("Body too large (limit {max} bytes)")));
            }
            let grew = got > t.held;
            if !t.hold(got) {
                return Err(too_busy());
            }
            if grew && to_disk && !self.fits().await {
                return Err(full());
            }
            match &mut sink {
                Sink::File(f) => f.write_all(&data).await.map_err(|e| self.io_failed(&self.root, e))?,
                Sink::Memory(v) => v.extend_from_slice(&data),
            }
        }
        if to_disk {
            self.lock_usage().added += got;
        }
        Ok(sink)
    }

    /// Removes temporary bodies left by a crash (older than `age`: another node
    /// sharing the directory may be receiving the newer ones).
    pub fn clean_incoming(&self, age: Duration) {
        let Ok(entries) = std::fs::read_dir(self.root.join(INCOMING)) else { return };
        for e in entries.flatten() {
            let old =
                e.metadata().and_then(|m| m.modified()).ok().and_then(|m| m.elapsed().ok()).is_some_and(|a| a >= age);
            if old {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

/// Bytes in regular files under `dir`; `top` skips its dot-directories (plugin
/// copies, temporary bodies: counted elsewhere).
fn dir_bytes(dir: &Path, top: bool) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    let mut sum = 0;
    for e in entries.flatten() {
        // file_type() does not follow symlinks: no loops.
        let Ok(kind) = e.file_type() else { continue };
        if kind.is_dir() {
            if !(top && e.file_name().to_string_lossy().starts_with('.')) {
                sum += dir_bytes(&e.path(), false);
            }
        } else if kind.is_file() {
            sum += e.metadata().map_or(0, |m| m.len());
        }
    }
    sum
}
