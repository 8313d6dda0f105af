//! Remote joins in flight. A join is registered before `room_join` is sent;
//! events of that room that arrive before the answer (the home host's echo of
//! the join can beat its reply) are held, then shown once the session is in
//! the room — so the join reply always comes before the echo, without polling.

use crate::remote::{qualified, RoomEvent};
use crate::sync::lock;
use std::collections::HashMap;
use std::sync::Mutex;

/// Events held for one join in flight; a peer sending more while we wait loses them.
const MAX_HELD: usize = 256;

#[derive(Default)]
struct Pending {
    waiters: usize,
    held: Vec<RoomEvent>,
}

/// Joins in flight by `room@home`.
#[derive(Default)]
pub struct PendingJoins(Mutex<HashMap<String, Pending>>);

impl PendingJoins {
    /// Registers a join of `key` (`room@home`) about to be sent.
    pub fn start(&self, key: &str) {
        lock(&self.0).entry(key.to_owned()).or_default().waiters += 1;
    }

    /// Holds `ev` (an event of `room@home`) if a join of that room is in flight;
    /// otherwise gives it back. No join in flight (the common case) costs no allocation.
    pub fn hold(&self, room: &str, home: &str, ev: RoomEvent) -> Option<RoomEvent> {
        let mut map = lock(&self.0);
        if map.is_empty() {
            return Some(ev);
        }
        match map.get_mut(&qualified(room, Some(home))) {
            Some(p) => {
                if p.held.len() < MAX_HELD {
                    p.held.push(ev);
                }
                None
            }
            None => Some(ev),
        }
    }

    /// Ends a join of `key`: `show` gets the events held so far, in order, while
    /// newer events still wait, so nothing overtakes them.
    pub fn finish(&self, key: &str, mut show: impl FnMut(&RoomEvent)) {
        let mut map = lock(&self.0);
        let Some(p) = map.get_mut(key) else { return };
        for ev in p.held.drain(..) {
            show(&ev);
        }
        p.waiters -= 1;
        if p.waiters == 0 {
            map.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_wait_for_the_join_and_keep_their_order() {
        let joins = PendingJoins::default();
        let ev = |s: &str| RoomEvent::joined(s, "h");
        assert_eq!(joins.hold("g", "h", ev("a")), Some(ev("a")));
        joins.start("g@h");
        joins.start("g@h");
        assert_eq!(joins.hold("g", "h", ev("b")), None);
        let mut shown = Vec::new();
        joins.finish("g@h", |e| shown.push(e.sender.clone()));
        assert_eq!(joins.hold("g", "h", ev("c")), None);
        joins.finish("g@h", |e| shown.push(e.sender.clone()));
        assert_eq!(shown, ["b", "c"]);
        assert_eq!(joins.hold("g", "h", ev("d")), Some(ev("d")));
    }

    #[test]
    fn held_events_are_bounded() {
        let joins = PendingJoins::default();
        joins.start("g@h");
        for i in 0..(MAX_HELD * 4) {
            assert_eq!(joins.hold("g", "h", RoomEvent::joined(&format!("u{i}"), "h")), None);
        }
        let mut n = 0;
        joins.finish("g@h", |_| n += 1);
        assert_eq!(n, MAX_HELD);
        // Nothing stays behind once the join is done.
        assert!(joins.0.lock().unwrap().is_empty());
    }
}
