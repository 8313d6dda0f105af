//! Deferred direct writes (plain TCP). A line queued into an idle direct outbox
//! wakes no task: the recipient is noted in the *sending* session's task, and
//! that session writes every noted outbox to its socket once it has handled the
//! messages it already read ([`run`]). A sender that read 32 lines at once thus
//! makes one write per recipient, not 32, and an idle recipient costs no task
//! wake-up at all. Pushes outside a session task (peer links, the cluster bus,
//! capabilities' timers) have no list to note in: they may hold the hub's
//! locks, so they hand the line to the recipient's session task, which writes
//! it at once (one wake-up, as with a writer task).

use super::handle::SessionHandle;
use std::cell::RefCell;
use std::future::Future;
use std::sync::Arc;

tokio::task_local! {
    static NOTED: RefCell<Noted>;
}

/// The outboxes a session task owes a write; written on drop too, so a task
/// that ends any way at all (a panic, an abort) leaves no line behind.
#[derive(Default)]
struct Noted(Vec<Arc<SessionHandle>>);

impl Drop for Noted {
    fn drop(&mut self) {
        for s in self.0.drain(..) {
            s.write_now(false);
        }
    }
}

/// Runs a session's future with its own list of outboxes to write. Not an
/// `async fn`: that would keep `f` twice in every idle session's future.
pub fn scope<F: Future>(f: F) -> impl Future<Output = F::Output> {
    NOTED.scope(RefCell::new(Noted::default()), f)
}

/// Notes `s` for the current session task, or hands it to its own task outside one.
pub(super) fn note(s: &SessionHandle) {
    let noted = NOTED
        .try_with(|noted| match s.arc() {
            Some(a) => {
                noted.borrow_mut().0.push(a);
                true
            }
            None => false,
        })
        .unwrap_or(false);
    if !noted {
        s.outbox.hand_over();
    }
}

/// True when the current task noted outboxes it has not written yet.
pub fn pending() -> bool {
    NOTED.try_with(|n| !n.borrow().0.is_empty()).unwrap_or(false)
}

/// Writes every outbox the current session task noted.
pub fn run() {
    let noted = NOTED.try_with(|n| std::mem::take(&mut n.borrow_mut().0)).unwrap_or_default();
    for s in noted {
        s.write_now(false);
    }
}
