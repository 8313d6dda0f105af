//! One client connection's state machine: before login → logged in → in a
//! subserver. Transport-agnostic: it reads [`Inbound`] messages and queues
//! replies into the session's outbox, which its writer task drains.

use crate::auth::Auth;
use crate::commands::{self, Ctx};
use crate::hub::{Hub, Room, Session};
use crate::limits::{Flood, FloodStep};
use crate::outbox::{Closed, Outbox};
use crate::replies;
use crate::transport::{Inbound, MessageReader, MessageWriter};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tracing::debug;

/// Messages buffered while one command runs; past this, TCP pushes back.
const MAX_PENDING: usize = 64;

/// Per-connection state the commands change.
#[derive(Default)]
pub struct State {
    /// Set by a successful /login.
    pub account: Option<Arc<str>>,
    /// The subserver the session is in.
    pub room: Option<Arc<Room>>,
    /// Chat flood control, made on the first chat line (boxed: idle sessions stay small).
    pub flood: Option<Box<Flood>>,
    /// Set when the session must end after this message (flooding).
    pub quit: bool,
}

impl State {
    /// The current subserver, forgetting one that was deleted meanwhile.
    pub fn current_room(&mut self) -> Option<Arc<Room>> {
        if self.room.as_ref().is_some_and(|r| r.is_deleted()) {
            self.room = None;
        }
        self.room.clone()
    }
}

/// What every session needs to run.
#[derive(Clone)]
pub struct Shared {
    /// The hub.
    pub hub: Arc<Hub>,
    /// Password hashing.
    pub auth: Auth,
    /// Reference-identical texts.
    pub legacy: bool,
    /// Outbound queue bounds (messages, bytes).
    pub queue: (usize, usize),
    /// Abuse budgets (`[limits]`).
    pub budgets: Arc<crate::limits::Budgets>,
}

impl Shared {
    /// The greeting with the compat rule applied.
    pub fn greeting(&self) -> &'static str {
        if self.legacy {
            "Enter command (/login /register): "
        } else {
            replies::GREETING
        }
    }

    /// The keep-alive answer with the compat rule applied.
    pub fn ping(&self) -> &'static str {
        if self.legacy {
            replies::PING_LEGACY
        } else {
            replies::PING
        }
    }
}

/// Runs one client session to its end.
pub async fn run(shared: Shared, peer: SocketAddr, mut reader: Box<dyn MessageReader>, writer: Box<dyn MessageWriter>) {
    let hub = shared.hub.clone();
    let session = Arc::new(Session::new(hub.next_session_id(), peer, Outbox::new(shared.queue.0, shared.queue.1)));
    hub.connect(&session);
    let mut writer_task = tokio::spawn(write_loop(session.clone(), writer));
    let mut state = State::default();
    // Messages read while a command was still running (see below).
    let mut pending: VecDeque<Inbound> = VecDeque::new();
    let mut eof = false;
    let mut kicked = false;
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
                _ = session.kick.notified() => {
                    kicked = true;
                    break;
                }
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
                let mut ctx = Ctx { shared: &shared, session: &session, state: &mut state };
                // Boxed: a command's future is only allocated while it runs,
                // which keeps idle sessions small.
                let mut command = Box::pin(handle(&mut ctx, &text));
                // Keep framing input while a slow command (a login) runs, so bare
                // packets sent meanwhile stay separate messages (WIRE §2).
                loop {
                    tokio::select! {
                        biased;
                        _ = &mut command => break,
                        m = reader.next(), if !eof && pending.len() < MAX_PENDING => match m {
                            Some(m) => pending.push_back(m),
                            None => eof = true,
                        },
                    }
                }
            }
        }
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
    // Kicks (idle, ban, shutdown) are counted where they are decided.
    if overflowed || !kicked {
        let reason = if overflowed { "queue_full" } else { "client" };
        crate::metrics::count(&crate::metrics::M.disconnects, "reason", reason);
    }
    if overflowed || tokio::time::timeout(Duration::from_secs(2), &mut writer_task).await.is_err() {
        writer_task.abort();
    }
    debug!(session = session.id, %peer, "session ended");
}

/// Handles one message: keep-alives first (`//login a b` is one keep-alive and
/// a command), then the command or chat.
async fn handle(ctx: &mut Ctx<'_>, text: &str) {
    let slashes = text.bytes().take_while(|&b| b == b'/').count();
    if slashes == text.len() {
        ctx.reply(ctx.shared.ping());
        return;
    }
    for _ in 1..slashes {
        ctx.reply(ctx.shared.ping());
    }
    let text = if slashes > 1 { &text[slashes - 1..] } else { text };
    if ctx.state.account.is_some() && is_chat(text) && !throttle(ctx).await {
        return;
    }
    commands::dispatch(ctx, text).await;
}

/// Chat, `/act` and `/pm` count towards `chat_lines_per_sec`.
fn is_chat(text: &str) -> bool {
    !text.starts_with('/') || text.starts_with("/act ") || text.starts_with("/pm ")
}

/// Delays a chat line while the session is over its rate; this session's input is
/// not read meanwhile (TCP pushes back on the sender), and nobody else waits.
/// False when the session is to be disconnected instead.
async fn throttle(ctx: &mut Ctx<'_>) -> bool {
    let (per_sec, burst) = ctx.shared.budgets.chat;
    if ctx.state.flood.is_none() {
        ctx.state.flood = Flood::new(per_sec, burst).map(Box::new);
    }
    let Some(flood) = ctx.state.flood.as_mut() else { return true };
    match flood.step(std::time::Instant::now()) {
        FloodStep::Go => true,
        FloodStep::Wait(wait, warn) => {
            if warn {
                ctx.reply(crate::limits::TOO_FAST);
            }
            tokio::time::sleep(wait).await;
            true
        }
        FloodStep::Disconnect => {
            tracing::info!(session = ctx.session.id, peer = %ctx.session.peer, "disconnected for flooding");
            ctx.reply(crate::limits::FLOOD_KICK);
            ctx.state.quit = true;
            false
        }
    }
}

async fn write_loop(session: Arc<Session>, mut writer: Box<dyn MessageWriter>) {
    let mut batch = Vec::new();
    loop {
        match session.outbox.next_batch(&mut batch, 256).await {
            Closed::No => {
                let res = writer.write(&batch).await;
                crate::metrics::M.deliveries_out.inc_by(batch.len() as u64);
                batch.clear();
                // Idle sessions keep no buffers: thousands of them add up.
                batch = Vec::new();
                if res.is_err() {
                    session.outbox.close();
                    session.kick.notify_one();
                    return;
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
