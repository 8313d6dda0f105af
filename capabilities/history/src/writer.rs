//! The history's own thread: room lines arrive on a bounded queue (the hook
//! never blocks delivery: when the queue is full the line is dropped and
//! counted) and are written in batches; replays on join are served in queue
//! order, after the lines that came before them.

use crate::db::{self, Line};
use plugin_api::Host;
use rusqlite::Connection;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Work for the thread.
pub enum Job {
    /// Store a line of a room.
    Line(String, Line),
    /// Send the last lines of a room to a session that just joined it.
    Replay { room: String, account: String, session_id: u64 },
    /// Delete lines older than this (Unix ms).
    Prune(u64),
}

/// How far the thread got, for read-your-writes in commands.
#[derive(Default)]
pub struct Progress {
    queued: AtomicU64,
    done: Mutex<u64>,
    cond: Condvar,
    dropped: AtomicU64,
}

/// The sending half, held by the capability.
pub struct Writer {
    tx: Mutex<Option<SyncSender<Job>>>,
    progress: Arc<Progress>,
    host: Host,
}

impl Writer {
    /// Starts the thread.
    pub fn start(conn: Connection, host: Host, capacity: usize, settings: Settings) -> Writer {
        let (tx, rx) = std::sync::mpsc::sync_channel(capacity.max(1));
        let progress = Arc::new(Progress::default());
        let p = progress.clone();
        let h = host.clone();
        std::thread::Builder::new()
            .name("history-writer".into())
            .spawn(move || run(conn, rx, p, h, settings))
            .map_err(|e| host.error(&format!("cannot start the writer thread: {e}")))
            .ok();
        Writer { tx: Mutex::new(Some(tx)), progress, host }
    }

    /// Queues a job without ever blocking; a full queue drops it (counted, logged).
    pub fn push(&self, job: Job) {
        let guard = self.tx.lock().unwrap_or_else(|p| p.into_inner());
        let Some(tx) = guard.as_ref() else { return };
        self.progress.queued.fetch_add(1, Ordering::SeqCst);
        match tx.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.progress.queued.fetch_sub(1, Ordering::SeqCst);
                let n = self.progress.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                if n.is_power_of_two() {
                    self.host.warn(&format!("history queue full: {n} lines dropped so far"));
                }
            }
        }
    }

    /// Waits (a bounded time) until everything queued so far is written.
    pub fn flush(&self) {
        let target = self.progress.queued.load(Ordering::SeqCst);
        let done = self.progress.done.lock().unwrap_or_else(|p| p.into_inner());
        let _ = self.progress.cond.wait_timeout_while(done, Duration::from_secs(2), |d| *d < target);
    }

    /// Lines dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.progress.dropped.load(Ordering::Relaxed)
    }

    /// Closes the queue: the thread writes what is left and ends.
    pub fn close(&self) {
        self.tx.lock().unwrap_or_else(|p| p.into_inner()).take();
    }
}

/// What the thread needs to know from the config.
#[derive(Clone, Copy)]
pub struct Settings {
    /// Lines kept per room.
    pub max_lines_per_room: u64,
    /// Lines replayed on join.
    pub replay_on_join: usize,
}

fn run(mut conn: Connection, rx: Receiver<Job>, progress: Arc<Progress>, host: Host, s: Settings) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        // Batch what is already waiting: one transaction per burst.
        while jobs.len() < 512 {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        let n = jobs.len() as u64;
        let mut lines = Vec::new();
        for job in jobs {
            match job {
                Job::Line(room, line) => lines.push((room, line)),
                Job::Replay { room, account, session_id } => {
                    store(&mut conn, &mut lines, &host, s);
                    replay(&conn, &host, &room, &account, session_id, s.replay_on_join);
                }
                Job::Prune(before) => match db::prune(&conn, before) {
                    Ok(0) => {}
                    Ok(n) => host.debug(&format!("pruned {n} old history lines")),
                    Err(e) => host.warn(&format!("pruning history failed: {e}")),
                },
            }
        }
        store(&mut conn, &mut lines, &host, s);
        let mut done = progress.done.lock().unwrap_or_else(|p| p.into_inner());
        *done += n;
        progress.cond.notify_all();
    }
}

fn store(conn: &mut Connection, lines: &mut Vec<(String, Line)>, host: &Host, s: Settings) {
    if lines.is_empty() {
        return;
    }
    if let Err(e) = db::insert(conn, lines, s.max_lines_per_room) {
        host.error(&format!("writing {} history lines failed: {e}", lines.len()));
    }
    lines.clear();
}

fn replay(conn: &Connection, host: &Host, room: &str, account: &str, session_id: u64, n: usize) {
    match db::last(conn, room, n) {
        Ok(lines) => {
            let shown = crate::render::visible(host, account, &lines);
            if !shown.is_empty() {
                host.send_to_session(session_id, &crate::render::lines(&shown, &host.host_name()));
            }
        }
        Err(e) => host.warn(&format!("replay for {account} in {room} failed: {e}")),
    }
}
