//! A subserver and its members: the data, and the small reads of it. What
//! happens when people join, leave and talk is in `rooms.rs`.

use super::handle::SessionHandle;
use crate::remote::qualified;
use crate::sync::{rd, wr};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// One account present in a subserver.
#[derive(Debug, Clone)]
pub struct Member {
    /// Account name.
    pub name: Arc<str>,
    /// `None` for this host's accounts, else the user's home host.
    pub origin: Option<Arc<str>>,
    /// Sessions on this node.
    pub(super) sessions: u32,
    /// Other cluster nodes with sessions of this account here.
    pub(super) nodes: Vec<Arc<str>>,
}

impl Member {
    /// `user` or `user@host`.
    pub fn display(&self) -> String {
        qualified(&self.name, self.origin.as_deref())
    }

    pub(super) fn is(&self, name: &str, origin: Option<&str>) -> bool {
        &*self.name == name && self.origin.as_deref() == origin
    }
}

/// Who is in a room: its local sessions and its members (local and remote).
#[derive(Default)]
pub(super) struct RoomState {
    /// Local sessions in join order.
    pub(super) sessions: Vec<Arc<SessionHandle>>,
    /// Members in join order.
    pub(super) members: Vec<Member>,
}

impl RoomState {
    /// Where `name` of `origin` is in the member list.
    pub(super) fn position(&self, name: &str, origin: Option<&str>) -> Option<usize> {
        self.members.iter().position(|m| m.is(name, origin))
    }

    /// Hosts other than this one with members here.
    pub(super) fn remote_hosts(&self) -> Vec<Arc<str>> {
        let mut hosts: Vec<Arc<str>> = Vec::new();
        for h in self.members.iter().filter_map(|m| m.origin.as_ref()) {
            if !hosts.contains(h) {
                hosts.push(h.clone());
            }
        }
        hosts
    }
}

/// A subserver: a local one (`home == None`) or this host's view of a remote one.
pub struct Room {
    /// The subserver's name on its home host.
    pub name: Arc<str>,
    /// The home host of a remote subserver.
    pub home: Option<Arc<str>>,
    state: RwLock<RoomState>,
    pub(super) deleted: AtomicBool,
}

impl Room {
    pub(super) fn new(name: &str, home: Option<&str>) -> Arc<Room> {
        Arc::new(Room {
            name: name.into(),
            home: home.map(Into::into),
            state: RwLock::default(),
            deleted: AtomicBool::new(false),
        })
    }

    /// How sessions see its name: `room` or `room@host`.
    pub fn label(&self) -> String {
        qualified(&self.name, self.home.as_deref())
    }

    pub(super) fn read(&self) -> RwLockReadGuard<'_, RoomState> {
        rd(&self.state)
    }

    pub(super) fn write(&self) -> RwLockWriteGuard<'_, RoomState> {
        wr(&self.state)
    }

    /// Members in join order, as `user` / `user@host`.
    pub fn member_names(&self) -> Vec<String> {
        self.read().members.iter().map(Member::display).collect()
    }

    /// Members in join order.
    pub fn members(&self) -> Vec<Member> {
        self.read().members.clone()
    }

    /// Is `name` (of `origin`, `None` for this host) a member?
    pub fn has_member(&self, name: &str, origin: Option<&str>) -> bool {
        self.read().position(name, origin).is_some()
    }

    /// Does anyone belong to it?
    pub fn has_members(&self) -> bool {
        !self.read().members.is_empty()
    }

    /// Hosts other than this one with members here (federation fan-out).
    pub fn remote_hosts(&self) -> Vec<Arc<str>> {
        self.read().remote_hosts()
    }

    /// True once /delete_server removed it.
    pub fn is_deleted(&self) -> bool {
        self.deleted.load(Ordering::Relaxed)
    }
}

/// Local subservers in creation order, and views of remote ones by `name@host`.
#[derive(Default)]
pub(super) struct RoomList {
    /// Local subservers in creation order.
    pub(super) order: Vec<Arc<Room>>,
    /// Views of remote subservers by `name@host`.
    pub(super) remote: HashMap<String, Arc<Room>>,
}

/// The hub's subservers.
pub(super) struct Rooms(pub(super) RwLock<RoomList>);

impl Rooms {
    /// The stored local subservers.
    pub(super) fn new(names: Vec<String>) -> Rooms {
        Rooms(RwLock::new(RoomList {
            order: names.iter().map(|n| Room::new(n, None)).collect(),
            ..RoomList::default()
        }))
    }
}
