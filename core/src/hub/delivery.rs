//! The one delivery path: a line is formatted once, the capabilities' delivery
//! filter is asked per recipient (only when some capability filters), and the
//! bytes are pushed into each session's outbox. No awaiting, no socket writes;
//! a recipient left busy is noted for the sender (`pushback.rs`).

use super::handle::{line, SessionHandle};
use super::state::Hub;
use crate::caps::DeliveryKind;
use std::sync::Arc;

impl Hub {
    /// Pushes `text` from `from` (`user` or `user@host`) to `to`, asking the delivery filter.
    pub(super) fn deliver(&self, to: &[Arc<SessionHandle>], kind: DeliveryKind, from: &str, text: &str) {
        let bytes = line(text);
        let caps = self.caps();
        let filter = caps.filters_delivery();
        for s in to {
            if filter {
                if let Some(account) = s.account() {
                    if !caps.allow(kind, from, account) {
                        continue;
                    }
                }
            }
            if s.push_noting(bytes.clone()) {
                super::pushback::note(s);
            }
        }
    }
}
