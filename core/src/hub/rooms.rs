//! Subservers: local ones (stored) and this host's views of remote ones; their
//! sessions and members; join, leave and chat. Member hosts of a local
//! subserver hear about its events through [`Federation::room_event`].
//!
//! [`Federation::room_event`]: crate::remote::Federation::room_event

use super::handle::{line, SessionHandle};
use super::room::{Member, Room};
use super::state::Hub;
use crate::bus::RoomMsg;
use crate::caps::{Caller, DeliveryKind};
use crate::remote::{qualified, RoomEvent};
use crate::replies;
use crate::store::StoreError;
use crate::sync::{rd, wr};
use std::sync::atomic::Ordering;

/// What [`Hub::add_member`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    /// Added, with a join notice.
    Yes,
    /// Already a member: nothing changed.
    Already,
    /// The subserver is full of members from other hosts: refused, no notice.
    Full,
}
use std::sync::Arc;

fn notice(kind: DeliveryKind, who: &str) -> String {
    match kind {
        DeliveryKind::Join => replies::join_notice(who),
        _ => replies::leave_notice(who),
    }
}

impl Hub {
    /// Local subserver names in creation order.
    pub fn room_names(&self) -> Vec<String> {
        rd(&self.rooms.0).order.iter().map(|r| r.name.to_string()).collect()
    }

    /// A local subserver by name.
    pub fn room(&self, name: &str) -> Option<Arc<Room>> {
        rd(&self.rooms.0).order.iter().find(|r| &*r.name == name).cloned()
    }

    /// Every local subserver.
    pub fn local_rooms(&self) -> Vec<Arc<Room>> {
        rd(&self.rooms.0).order.clone()
    }

    /// Creates a local subserver (stored first); `Ok(false)` if it exists.
    pub async fn create_room(&self, name: &str, creator: &str) -> Result<bool, StoreError> {
        if self.room(name).is_some() {
            return Ok(false);
        }
        let n = name.to_owned();
        let c = creator.to_owned();
        if !self.store.run(move |s| s.add_room_by(&n, &c)).await? {
            return Ok(false);
        }
        self.add_local_room(name);
        self.bus().room(name, RoomMsg::Created);
        Ok(true)
    }

    /// Adds a stored subserver to the list (created here or on another node).
    pub(super) fn add_local_room(&self, name: &str) {
        let mut rooms = wr(&self.rooms.0);
        if !rooms.order.iter().any(|r| &*r.name == name) {
            rooms.order.push(Room::new(name, None));
        }
    }

    /// Deletes a local subserver; its sessions stay connected but are no longer in it.
    pub async fn delete_room(&self, name: &str) -> Result<bool, StoreError> {
        let n = name.to_owned();
        let existed = self.store.run(move |s| s.delete_room(&n)).await?;
        self.bus().room(name, RoomMsg::Deleted);
        Ok(self.drop_local_room(name) || existed)
    }

    /// Takes a subserver off the list and empties it; true if it was listed.
    pub(super) fn drop_local_room(&self, name: &str) -> bool {
        let room = {
            let mut rooms = wr(&self.rooms.0);
            let pos = rooms.order.iter().position(|r| &*r.name == name);
            pos.map(|p| rooms.order.remove(p))
        };
        if let Some(room) = &room {
            room.deleted.store(true, Ordering::Relaxed);
            let bytes = line(&replies::server_deleted_notice(name));
            let mut st = room.write();
            for s in &st.sessions {
                s.push(bytes.clone());
            }
            st.sessions.clear();
            st.members.clear();
        }
        room.is_some()
    }

    /// This host's view of a remote subserver, created on first use (after a successful join).
    pub fn remote_room(&self, name: &str, host: &str) -> Arc<Room> {
        let key = qualified(name, Some(host));
        if let Some(r) = rd(&self.rooms.0).remote.get(&key) {
            return r.clone();
        }
        wr(&self.rooms.0).remote.entry(key).or_insert_with(|| Room::new(name, Some(host))).clone()
    }

    /// An existing view of a remote subserver.
    pub fn find_remote_room(&self, name: &str, host: &str) -> Option<Arc<Room>> {
        rd(&self.rooms.0).remote.get(&qualified(name, Some(host))).cloned()
    }

    /// Adds a local session to a subserver, queues `reply` to it first, then the
    /// join notice if this is the account's first session there.
    pub fn join(&self, room: &Arc<Room>, session: &Arc<SessionHandle>, reply: &str) {
        self.join_as(room, session, reply, None);
    }

    /// [`Hub::join`], where `cluster_first` (from [`Hub::room_presence`]) says
    /// whether the account is new to the subserver cluster-wide, which decides
    /// whether member hosts hear of it (`None`: this node's view decides).
    pub fn join_as(&self, room: &Arc<Room>, session: &Arc<SessionHandle>, reply: &str, cluster_first: Option<bool>) {
        let Some(account) = session.account().cloned() else { return };
        let mut st = room.write();
        st.sessions.push(session.clone());
        session.send(reply);
        // `first`: across the cluster (notices); `first_here`: on this node (tell the others).
        let (first, first_here) = match st.position(&account, None) {
            Some(i) => {
                st.members[i].sessions += 1;
                (false, st.members[i].sessions == 1)
            }
            None => {
                st.members.push(Member { name: account.clone(), origin: None, sessions: 1, nodes: Vec::new() });
                (true, true)
            }
        };
        if room.home.is_none() && self.caps().room_joins() {
            let caller = Caller {
                account: account.to_string(),
                session_id: session.id,
                peer_ip: session.peer.ip(),
                room: Some(room.name.to_string()),
            };
            self.caps().room_joined(&room.name, caller);
        }
        if first_here && room.home.is_none() {
            self.bus().room(&room.name, RoomMsg::Joined { account: account.to_string(), origin: None });
        }
        // A remote subserver's home host announces joins back to us as room events.
        if room.home.is_some() {
            return;
        }
        if first {
            self.deliver(&st.sessions, DeliveryKind::Join, &account, &replies::join_notice(&account));
            self.record(room, DeliveryKind::Join, &account, "");
        }
        if cluster_first.unwrap_or(first) {
            let hosts = st.remote_hosts();
            drop(st);
            self.fan_out(room, hosts, || RoomEvent::joined(&account, self.host()));
        }
    }

    /// In a cluster with a shared room presence store: records that this node
    /// has an account in a local subserver and says whether it is the first
    /// node to (see [`crate::bus::Bus::room_presence`]); `None` otherwise.
    pub async fn room_presence(&self, room: &Room, account: &str) -> Option<bool> {
        if room.home.is_some() {
            return None;
        }
        self.bus().room_presence(&room.name, account, true)?.await
    }

    /// Removes a local session from a subserver; the leave notice goes out after the account's last session.
    /// Returns true when that was the account's last session there.
    pub fn leave(&self, room: &Arc<Room>, session: &Arc<SessionHandle>) -> bool {
        let Some(account) = session.account().cloned() else { return false };
        let mut st = room.write();
        let before = st.sessions.len();
        st.sessions.retain(|s| s.id != session.id);
        if st.sessions.len() == before {
            return false;
        }
        let Some(pos) = st.position(&account, None) else { return false };
        st.members[pos].sessions -= 1;
        if st.members[pos].sessions > 0 {
            return false;
        }
        // With a shared room presence store, it decides (after this returns) whether member hosts hear of it.
        let mut shared = false;
        if room.home.is_none() {
            self.bus().room(&room.name, RoomMsg::Left { account: account.to_string(), origin: None });
            let elsewhere = !st.members[pos].nodes.is_empty();
            if let Some(last) = self.bus().room_presence(&room.name, &account, false) {
                shared = true;
                let fed = self.federation.get().cloned();
                let (r, a, me) = (room.clone(), account.to_string(), self.host().to_owned());
                tokio::spawn(async move {
                    if last.await.unwrap_or(!elsewhere) {
                        let hosts = r.read().remote_hosts();
                        if let (Some(fed), false) = (fed, hosts.is_empty()) {
                            fed.room_event(&r.name, hosts, RoomEvent::left(&a, &me));
                        }
                    }
                });
            }
            if elsewhere {
                return true; // still here through another node: no notice
            }
        }
        st.members.remove(pos);
        match &room.home {
            None => {
                self.deliver(&st.sessions, DeliveryKind::Leave, &account, &replies::leave_notice(&account));
                self.record(room, DeliveryKind::Leave, &account, "");
                let hosts = if shared { Vec::new() } else { st.remote_hosts() };
                drop(st);
                self.fan_out(room, hosts, || RoomEvent::left(&account, self.host()));
            }
            Some(home) => {
                drop(st);
                self.federation().leave_remote(&room.name, home, &account);
            }
        }
        true
    }

    /// Adds `user@origin` (a user of another host) to a local subserver with a join
    /// notice to its sessions (on every node of a cluster), unless already a member or the subserver holds
    /// `max_remote_members_per_room` members of other hosts.
    pub fn add_member(&self, room: &Room, user: &str, origin: &str) -> Added {
        let mut st = room.write();
        if st.position(user, Some(origin)).is_some() {
            return Added::Already;
        }
        let cap = self.max_remote_members();
        if cap != 0 && st.members.iter().filter(|m| m.origin.is_some()).count() >= cap {
            return Added::Full;
        }
        st.members.push(Member { name: user.into(), origin: Some(origin.into()), sessions: 1, nodes: Vec::new() });
        let who = qualified(user, Some(origin));
        self.deliver(&st.sessions, DeliveryKind::Join, &who, &notice(DeliveryKind::Join, &who));
        self.record(room, DeliveryKind::Join, &who, "");
        self.bus().room(&room.name, RoomMsg::Joined { account: user.into(), origin: Some(origin.into()) });
        Added::Yes
    }

    /// Removes `user@origin` from a local subserver with a leave notice; false if not a member.
    pub fn remove_member(&self, room: &Room, user: &str, origin: &str) -> bool {
        let mut st = room.write();
        let Some(pos) = st.position(user, Some(origin)) else { return false };
        st.members.remove(pos);
        let who = qualified(user, Some(origin));
        self.deliver(&st.sessions, DeliveryKind::Leave, &who, &notice(DeliveryKind::Leave, &who));
        self.record(room, DeliveryKind::Leave, &who, "");
        self.bus().room(&room.name, RoomMsg::Left { account: user.into(), origin: Some(origin.into()) });
        true
    }

    /// Chat or an action in a local subserver, from a local (`origin == None`) or remote user:
    /// delivered to local sessions and fanned out to member hosts.
    pub fn say(&self, room: &Arc<Room>, user: &str, origin: Option<&str>, text: &str, is_act: bool) {
        let who = qualified(user, origin);
        let (kind, msg) = if is_act {
            (DeliveryKind::Act, replies::act(&who, text))
        } else {
            (DeliveryKind::Chat, replies::chat(&who, text))
        };
        let hosts = {
            let st = room.read();
            self.deliver(&st.sessions, kind, &who, &msg);
            // Under the room's lock, so history keeps the order members saw.
            self.record(room, kind, &who, text);
            // Under the read lock: the other nodes get this room's lines in the order we showed them.
            let said =
                RoomMsg::Said { user: user.into(), origin: origin.map(Into::into), text: text.into(), act: is_act };
            self.bus().room(&room.name, said);
            st.remote_hosts()
        };
        let origin = origin.unwrap_or(self.host());
        self.fan_out(room, hosts, || RoomEvent::said(user, origin, text, is_act));
    }

    /// Hands a line of a local subserver to the capabilities that record room lines (once per line).
    pub(super) fn record(&self, room: &Room, kind: DeliveryKind, who: &str, text: &str) {
        let caps = self.caps();
        if caps.room_lines() {
            caps.room_line(&room.name, kind, who, text);
        }
    }

    /// Shows a line to the sessions in a subserver (events of a remote one).
    pub fn show(&self, room: &Room, kind: DeliveryKind, from: &str, text: &str) {
        self.deliver(&room.read().sessions, kind, from, text);
    }

    /// Sends a room event to member hosts of a local subserver; with none, the
    /// event is not even built (the common, local-only case costs nothing).
    pub fn fan_out(&self, room: &Room, hosts: Vec<Arc<str>>, ev: impl FnOnce() -> RoomEvent) {
        if !hosts.is_empty() {
            self.federation().room_event(&room.name, hosts, ev());
        }
    }
}
