//! A session's capability calls, off its command loop: each `/CAP-COMMAND`
//! goes to a per-session task that runs the calls one after another and queues
//! each reply when it comes. The session meanwhile reads and runs its next
//! lines (chat keeps flowing while a plugin works); capability replies keep
//! the order their commands were sent in. At most [`MAX_PENDING`] calls wait
//! per session; more are refused with one line.

use crate::caps::Caller;
use crate::hub::{Hub, SessionHandle};
use crate::replies;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Most capability calls one session may have running or waiting.
pub const MAX_PENDING: usize = 4;

/// One call.
struct Call {
    cap: String,
    command: String,
    args: String,
    caller: Caller,
}

/// The sending half, kept in the session's state; dropping it ends the task
/// after the calls already queued.
pub struct CapCalls {
    tx: mpsc::Sender<Call>,
    pending: Arc<AtomicUsize>,
}

impl CapCalls {
    /// Starts the task of one session.
    pub fn start(hub: Arc<Hub>, session: Arc<SessionHandle>) -> CapCalls {
        let (tx, mut rx) = mpsc::channel::<Call>(MAX_PENDING);
        let pending = Arc::new(AtomicUsize::new(0));
        let count = pending.clone();
        tokio::spawn(async move {
            while let Some(c) = rx.recv().await {
                let reply = hub.caps().command(&c.cap, &c.command, &c.args, c.caller).await;
                count.fetch_sub(1, Ordering::SeqCst);
                match reply {
                    None => {
                        session.send(replies::UNKNOWN);
                    }
                    Some(r) if r.is_empty() => {}
                    Some(r) => {
                        session.send(&r);
                    }
                }
            }
        });
        CapCalls { tx, pending }
    }

    /// Queues a call; false (nothing queued) when [`MAX_PENDING`] are already pending.
    pub fn push(&self, cap: &str, command: &str, args: &str, caller: Caller) -> bool {
        if self.pending.fetch_add(1, Ordering::SeqCst) >= MAX_PENDING {
            self.pending.fetch_sub(1, Ordering::SeqCst);
            return false;
        }
        let call = Call { cap: cap.into(), command: command.into(), args: args.into(), caller };
        if self.tx.try_send(call).is_err() {
            self.pending.fetch_sub(1, Ordering::SeqCst);
            return false;
        }
        true
    }
}
