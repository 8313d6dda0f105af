//! What the commands work with: server-wide [`Shared`] things and one
//! connection's [`State`]. Kept apart from `session` and `commands` so that
//! neither depends on the other's internals.

use crate::auth::Auth;
use crate::cap_calls::CapCalls;
use crate::hub::{Hub, Room};
use crate::limits::{Budgets, Flood};
use crate::replies;
use std::sync::Arc;

/// Per-connection state the commands change.
#[derive(Default)]
pub struct State {
    /// Set by a successful /login.
    pub account: Option<Arc<str>>,
    /// The subserver the session is in.
    pub room: Option<Arc<Room>>,
    /// Its capability calls in flight (started with the first one).
    pub cap_calls: Option<CapCalls>,
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
    /// Abuse budgets (`[limits]`).
    pub budgets: Arc<Budgets>,
    /// Upload budgets (`[limits]` `upload*`).
    pub uploads: Arc<crate::uploads::Uploads>,
}

impl Shared {
    /// The greeting with the compat rule applied.
    pub fn greeting(&self) -> &'static str {
        if self.legacy {
            replies::GREETING_LEGACY
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
