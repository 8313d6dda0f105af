//! One client connection's state machine: before login → logged in → in a
//! subserver. Transport-agnostic: it reads [`Inbound`] messages and queues
//! replies into the session's outbox. TLS, WebSocket and legacy sessions have a
//! writer task that drains it; plain TCP sessions have none: this task writes
//! its socket itself when lines are queued (see [`crate::outbox`]), so an idle
//! session is one task.
//!
//! The session stops reading its client while (a) a chat line waits for the
//! flood budget and (b) a line it sent left some recipient's queue busy
//! (`hub::pushback`): in both cases the kernel's buffers push back on this
//! sender alone, and nobody else waits.

use crate::commands::{self, Ctx, Gate};
use crate::context::{Shared, State};
use crate::hub::{pushback, SessionHandle};
use crate::metrics::Tracked;
use crate::outbox::{Closed, Outbox, Wrote};
use crate::replies;
use crate::transport::{Inbound, MessageReader, MessageWriter};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::{poll_fn, Future};
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tracing::debug;

/// Messages buffered while one command runs; past this, TCP pushes back.
const MAX_PENDING: usize = 64;

/// Runs one client session to its end; `transport` labels it in the metrics and
/// `keep` (a connection slot, a shutdown guard) is dropped when it ends.
///
/// Not an `async fn`: the set-up runs here, so the future (what every idle
/// session keeps for as long as it is connected) holds only what the loop needs.
/// While idle it waits in one poll function ([`poll_idle`]); reading a message,
/// running it and the session's end are boxed futures that exist only meanwhile.
pub fn run(
    shared: Arc<Shared>,
    peer: SocketAddr,
    transport: &'static str,
    mut reader: Box<dyn MessageReader>,
    writer: Box<dyn MessageWriter>,
    keep: impl Send + 'static,
) -> impl Future<Output = ()> + Send {
    let mut tracked = Tracked::open(transport);
    let (msgs, bytes) = shared.budgets.queue();
    let session = SessionHandle::new(shared.hub.next_session_id(), peer, Outbox::new(msgs, bytes));
    // Plain TCP is written directly (no writer task); the others keep theirs.
    let writer_task = match writer.direct() {
        Some(sock) => {
            session.outbox.set_direct(sock);
            None
        }
        None => Some(tokio::spawn(write_loop(session.clone(), writer, shared.budgets.slow_reader()))),
    };
    let direct = writer_task.is_none();
    debug!(session = session.id, %peer, "session started");
    pushback::scope(async move {
        shared.hub.connect(&session);
        session.send(shared.greeting());
        let mut state = State::default();
        // Messages read while a command was still running (see `handle`).
        let mut pending = Pending::default();
        let mut eof = false;
        'session: loop {
            let msg = 'msg: {
                // A statement, so the `Option` is gone before the wait below.
                if let Some(m) = pending.pop() {
                    break 'msg m;
                }
                if eof {
                    break 'session;
                }
                // Idle timeouts and shutdown arrive as kicks (see `server`): no timer per idle session.
                let woke = poll_fn(|cx| poll_idle(&session, &mut *reader, direct, cx)).await;
                if woke == Woke::Kicked {
                    break 'session;
                }
                match Box::pin(next_input(&shared, &session, &mut *reader)).await {
                    Some(m) => m,
                    None => break 'session,
                }
            };
            let go_on =
                Box::pin(handle(&shared, &session, &mut state, &mut *reader, &mut pending, &mut eof, msg)).await;
            tracked.logged_in(state.account.is_some());
            if !go_on || state.quit || session.outbox.closed() == Closed::Overflow {
                break;
            }
        }
        Box::pin(finish(&shared, &session, &mut state, writer_task, reader)).await;
        drop(keep);
        drop(tracked);
    })
}

/// Messages read ahead while a command ran; boxed only while there are some
/// (8 bytes in every idle session's future instead of a `VecDeque`'s 32).
#[derive(Default)]
#[allow(clippy::box_collection)]
struct Pending(Option<Box<VecDeque<Inbound>>>);

impl Pending {
    fn pop(&mut self) -> Option<Inbound> {
        let queue = self.0.as_mut()?;
        let m = queue.pop_front();
        if queue.is_empty() {
            self.0 = None;
        }
        m
    }

    fn push(&mut self, m: Inbound) {
        self.0.get_or_insert_with(Default::default).push_back(m);
    }

    fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |q| q.len())
    }
}

/// What woke an idle session.
#[derive(PartialEq, Eq)]
enum Woke {
    /// It must end.
    Kicked,
    /// The client sent something (or closed), or the socket is full with lines still queued.
    Busy,
}

/// Waits for the client, a kick, or queued lines (plain TCP: written here at once,
/// without leaving the idle state unless the socket is full). Every source
/// registers this task's waker before it is found empty, so no wake-up is lost.
fn poll_idle(
    session: &SessionHandle,
    reader: &mut dyn MessageReader,
    direct: bool,
    cx: &mut Context<'_>,
) -> Poll<Woke> {
    if session.kick.poll_take(cx).is_ready() {
        return Poll::Ready(Woke::Kicked);
    }
    if direct {
        // A few rounds, then yield: a recipient flooded with lines still gets to read.
        let mut rounds = 0;
        while session.outbox.poll_owed(cx).is_ready() {
            if session.write_now() == Wrote::Backlog {
                return Poll::Ready(Woke::Busy);
            }
            rounds += 1;
            if rounds == 4 {
                cx.waker().wake_by_ref();
                break;
            }
        }
    }
    reader.poll_ready(cx).map(|()| Woke::Busy)
}

/// The next client message (`None`: the client is gone, or the session was kicked),
/// writing any backlog meanwhile.
async fn next_input(shared: &Shared, session: &SessionHandle, reader: &mut dyn MessageReader) -> Option<Inbound> {
    let direct = session.outbox.direct();
    let slow = shared.budgets.slow_reader();
    tokio::select! {
        r = reader.next() => r,
        _ = session.kick.notified() => None,
        never = write_backlog(session, direct.as_ref(), slow) => match never {},
    }
}

/// Runs one client message; false when the session must end.
#[allow(clippy::too_many_arguments)]
async fn handle(
    shared: &Shared,
    session: &Arc<SessionHandle>,
    state: &mut State,
    reader: &mut dyn MessageReader,
    pending: &mut Pending,
    eof: &mut bool,
    msg: Inbound,
) -> bool {
    let slow = shared.budgets.slow_reader();
    let direct = session.outbox.direct();
    let direct = direct.as_ref();
    match msg {
        Inbound::TooLong => {
            session.send(replies::TOO_LONG);
        }
        Inbound::BadUtf8 => {
            session.send(replies::BAD_UTF8);
        }
        Inbound::Message(text) => {
            session.touch();
            crate::metrics::M.messages_in.inc();
            let gate = commands::gate(&mut Ctx { shared, session, state }, &text);
            if let Gate::Wait(wait) = gate {
                if !pause(session, direct, slow, tokio::time::sleep(wait)).await {
                    return false;
                }
            }
            if gate != Gate::Quit {
                let mut ctx = Ctx { shared, session, state };
                // Boxed: its size depends on the command, and this future is boxed anyway.
                let mut command = Box::pin(commands::run(&mut ctx, &text));
                // Keep framing input while a slow command (a login) runs, so bare
                // packets sent meanwhile stay separate messages (protocol.md §2).
                loop {
                    tokio::select! {
                        biased;
                        _ = &mut command => break,
                        m = reader.next(), if !*eof && pending.len() < MAX_PENDING => match m {
                            Some(m) => pending.push(m),
                            None => *eof = true,
                        },
                        never = write_backlog(session, direct, slow) => match never {},
                    }
                }
            }
            if pushback::pending() && !pause(session, direct, slow, pushback::wait()).await {
                return false;
            }
        }
    }
    true
}

/// The session's end: leaves its room, disconnects, and lets the writer finish.
async fn finish(
    shared: &Shared,
    session: &Arc<SessionHandle>,
    state: &mut State,
    writer_task: Option<JoinHandle<()>>,
    reader: Box<dyn MessageReader>,
) {
    let room = state.current_room();
    shared.hub.logout(session, room.as_ref());
    shared.hub.disconnect(session);
    session.outbox.close();
    // An overflowed client is not reading: do not wait for its writer at all.
    let overflowed = session.outbox.closed() == Closed::Overflow;
    let fallback = if overflowed { "queue_full" } else { "client" };
    crate::metrics::count(&crate::metrics::M.disconnects, "reason", session.end_reason().unwrap_or(fallback));
    const DRAIN: Duration = Duration::from_secs(2);
    match writer_task {
        Some(mut task) => {
            if overflowed || tokio::time::timeout(DRAIN, &mut task).await.is_err() {
                task.abort();
            }
        }
        None => {
            if let (Some(sock), false) = (session.outbox.direct(), overflowed) {
                let _ = tokio::time::timeout(DRAIN, drain(session, &sock)).await;
            }
            // The socket's last handles: the write side is shut once everything is out.
            let sock = session.outbox.detach();
            drop(reader);
            if let (Some(mut sock), false) = (sock, overflowed) {
                crate::transport::plain::shutdown(&mut sock).await;
            }
        }
    }
    debug!(session = session.id, peer = %session.peer, "session ended");
}

/// Waits for `until` without reading from the client; false if the session was kicked meanwhile.
async fn pause(
    session: &SessionHandle,
    direct: Option<&Arc<TcpStream>>,
    slow: Option<Duration>,
    until: impl Future<Output = ()>,
) -> bool {
    tokio::select! {
        _ = until => true,
        _ = session.kick.notified() => false,
        never = write_backlog(session, direct, slow) => match never {},
    }
}

/// Plain TCP: writes what the socket did not take when it was written directly,
/// as the socket drains; never returns. Without a direct socket it just waits.
async fn write_backlog(session: &SessionHandle, direct: Option<&Arc<TcpStream>>, slow: Option<Duration>) -> Infallible {
    let Some(sock) = direct else { return std::future::pending().await };
    loop {
        session.outbox.owed().await;
        // Boxed: only a session with a backlog carries the timer.
        Box::pin(write_out(session, sock, slow)).await;
    }
}

/// Writes the backlog until it is gone, the socket breaks, or (slow-reader rule)
/// the socket accepted nothing for `slow`.
async fn write_out(session: &SessionHandle, sock: &TcpStream, slow: Option<Duration>) {
    loop {
        if session.write_now() != Wrote::Backlog {
            return;
        }
        let ready = match slow {
            None => sock.writable().await,
            Some(limit) => {
                let left = limit.saturating_sub(session.stalled_for());
                if left.is_zero() {
                    slow_reader(session, slow);
                    return;
                }
                match tokio::time::timeout(left, sock.writable()).await {
                    Ok(r) => r,
                    Err(_) => continue,
                }
            }
        };
        if ready.is_err() {
            session.outbox.close();
            session.kick.notify_one();
            return;
        }
    }
}

/// At the end: writes what is still queued (the caller bounds the wait).
async fn drain(session: &SessionHandle, sock: &TcpStream) {
    while session.write_now() == Wrote::Backlog {
        if sock.writable().await.is_err() {
            return;
        }
    }
}

fn slow_reader(session: &SessionHandle, slow: Option<Duration>) {
    tracing::warn!(session = session.id, peer = %session.peer, account = ?session.account(), ?slow, "client accepted no bytes for too long: disconnecting it");
    session.outbox.fail();
    session.end("slow_reader");
}

async fn write_loop(session: Arc<SessionHandle>, mut writer: Box<dyn MessageWriter>, slow: Option<Duration>) {
    let mut batch = Vec::new();
    loop {
        match session.outbox.next_batch(&mut batch, 256).await {
            Closed::No => {
                session.progressed();
                let progress = || session.progressed();
                let res = match slow {
                    Some(limit) => Box::pin(watched(&session, writer.write(&batch, &progress), limit)).await,
                    None => writer.write(&batch, &progress).await,
                };
                crate::metrics::M.deliveries_out.inc_by(batch.len() as u64);
                batch.clear();
                // Idle sessions keep no buffers: thousands of them add up.
                batch = Vec::new();
                match res {
                    Ok(()) => session.write_idle(),
                    Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                        slow_reader(&session, slow);
                        return;
                    }
                    Err(_) => {
                        session.outbox.close();
                        session.kick.notify_one();
                        return;
                    }
                }
            }
            Closed::Graceful => {
                writer.shutdown().await;
                return;
            }
            Closed::Overflow => {
                session.kick.notify_one();
                return;
            }
        }
    }
}

/// Runs a write, failing it with `TimedOut` once the socket accepted no bytes for `limit`.
async fn watched(
    session: &SessionHandle,
    write: impl std::future::Future<Output = std::io::Result<()>>,
    limit: Duration,
) -> std::io::Result<()> {
    tokio::pin!(write);
    loop {
        let left = limit.saturating_sub(session.stalled_for());
        if left.is_zero() {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        if let Ok(res) = tokio::time::timeout(left, &mut write).await {
            return res;
        }
    }
}
