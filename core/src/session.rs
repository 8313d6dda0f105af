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
use crate::outbox::{Closed, Outbox, Wrote};
use crate::replies;
use crate::transport::{Inbound, MessageReader, MessageWriter};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tracing::debug;

/// Messages buffered while one command runs; past this, TCP pushes back.
const MAX_PENDING: usize = 64;

/// Runs one client session to its end; `transport` labels it in the metrics.
/// Not an `async fn`: that would keep the arguments next to the session's
/// future in every idle session.
pub fn run(
    shared: Shared,
    peer: SocketAddr,
    transport: &'static str,
    reader: Box<dyn MessageReader>,
    writer: Box<dyn MessageWriter>,
) -> impl Future<Output = ()> {
    pushback::scope(run_scoped(shared, peer, transport, reader, writer))
}

async fn run_scoped(
    shared: Shared,
    peer: SocketAddr,
    transport: &'static str,
    mut reader: Box<dyn MessageReader>,
    writer: Box<dyn MessageWriter>,
) {
    let mut tracked = crate::metrics::Tracked::open(transport);
    let hub = shared.hub.clone();
    let (msgs, bytes) = shared.budgets.queue();
    let session = SessionHandle::new(hub.next_session_id(), peer, Outbox::new(msgs, bytes));
    let slow = shared.budgets.slow_reader();
    // Plain TCP is written directly (no writer task); the others keep theirs.
    let direct_sock = writer.direct();
    let writer_task = match &direct_sock {
        Some(sock) => {
            session.outbox.set_direct(sock.clone());
            drop(writer);
            None
        }
        None => Some(tokio::spawn(write_loop(session.clone(), writer, slow))),
    };
    let direct = direct_sock.as_ref();
    hub.connect(&session);
    let mut state = State::default();
    // Messages read while a command was still running (see below).
    let mut pending: VecDeque<Inbound> = VecDeque::new();
    let mut eof = false;
    debug!(session = session.id, %peer, "session started");
    session.send(shared.greeting());
    loop {
        let msg = if let Some(m) = pending.pop_front() {
            m
        } else if eof {
            break;
        } else {
            if pending.capacity() > 0 {
                pending = VecDeque::new();
            }
            // Idle timeouts and shutdown arrive as kicks (see `server`), which keeps
            // this future small: no timer per idle session.
            let inbound = tokio::select! {
                r = reader.next() => r,
                _ = session.kick.notified() => break,
                never = write_backlog(&session, direct, slow) => match never {},
            };
            match inbound {
                Some(m) => m,
                None => break,
            }
        };
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
                let gate = commands::gate(&mut Ctx { shared: &shared, session: &session, state: &mut state }, &text);
                if let Gate::Wait(wait) = gate {
                    if !Box::pin(pause(&session, direct, slow, tokio::time::sleep(wait))).await {
                        break;
                    }
                }
                if gate != Gate::Quit {
                    let mut ctx = Ctx { shared: &shared, session: &session, state: &mut state };
                    // Boxed: a command's future is only allocated while it runs,
                    // which keeps idle sessions small.
                    let mut command = Box::pin(commands::run(&mut ctx, &text));
                    // Keep framing input while a slow command (a login) runs, so bare
                    // packets sent meanwhile stay separate messages (protocol.md §2).
                    loop {
                        tokio::select! {
                            biased;
                            _ = &mut command => break,
                            m = reader.next(), if !eof && pending.len() < MAX_PENDING => match m {
                                Some(m) => pending.push_back(m),
                                None => eof = true,
                            },
                            never = write_backlog(&session, direct, slow) => match never {},
                        }
                    }
                }
                if pushback::pending() && !Box::pin(pause(&session, direct, slow, pushback::wait())).await {
                    break;
                }
            }
        }
        tracked.logged_in(state.account.is_some());
        if state.quit || session.outbox.closed() == Closed::Overflow {
            break;
        }
    }
    let room = state.current_room();
    hub.logout(&session, room.as_ref());
    hub.disconnect(&session);
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
            if let Some(sock) = direct {
                if !overflowed {
                    let _ = Box::pin(tokio::time::timeout(DRAIN, drain(&session, sock))).await;
                }
            }
            // The socket's last handles: the write side is shut once everything is out.
            let sock = session.outbox.detach();
            drop(reader);
            drop(direct_sock);
            if let (Some(mut sock), false) = (sock, overflowed) {
                Box::pin(crate::transport::plain::shutdown(&mut sock)).await;
            }
        }
    }
    debug!(session = session.id, %peer, "session ended");
}

/// Waits for `until` without reading from the client; false if the session was kicked meanwhile.
/// Callers box it: only a waiting session should carry its timer, not every idle one.
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
