//! What other nodes of a cluster tell this one (through `crate::cluster`):
//! their subserver events, lines for accounts, and their heartbeat state.
//! Everything ends in the same delivery path as local events.

use super::room::{Member, Room};
use super::state::Hub;
use crate::bus::{RoomMsg, UserMsg};
use crate::caps::DeliveryKind;
use crate::remote::qualified;
use crate::replies;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;

/// Per subserver, the accounts a node has sessions of there.
pub type NodeRooms = BTreeMap<String, BTreeSet<String>>;

impl Hub {
    /// A subserver event published by `node`.
    pub fn bus_room(&self, node: &str, room: &str, msg: RoomMsg) {
        match msg {
            RoomMsg::Created => self.add_local_room(room),
            RoomMsg::Deleted => {
                self.drop_local_room(room);
            }
            RoomMsg::Said { user, origin, text, act } => {
                let Some(r) = self.room(room) else { return };
                let who = qualified(&user, origin.as_deref());
                let (kind, line) = if act {
                    (DeliveryKind::Act, replies::act(&who, &text))
                } else {
                    (DeliveryKind::Chat, replies::chat(&who, &text))
                };
                // Like a local line, shown and recorded once on this node. Member hosts
                // (federation) got it from the node where it was said.
                let st = r.read();
                self.deliver(&st.sessions, kind, &who, &line);
                self.record(&r, kind, &who, &text);
            }
            RoomMsg::Joined { account, origin: None } => {
                if let Some(r) = self.room(room) {
                    self.node_presence(&r, &account, node, true);
                }
            }
            RoomMsg::Left { account, origin: None } => {
                if let Some(r) = self.room(room) {
                    self.node_presence(&r, &account, node, false);
                }
            }
            RoomMsg::Joined { account, origin: Some(host) } => {
                if let Some(r) = self.room(room) {
                    self.remote_member(&r, &account, &host, true);
                }
            }
            RoomMsg::Left { account, origin: Some(host) } => {
                if let Some(r) = self.room(room) {
                    self.remote_member(&r, &account, &host, false);
                }
            }
        }
    }

    /// A user of another host joined or left a local subserver through another
    /// node: a member here too (so its host may reach any node), with the notice.
    fn remote_member(&self, room: &Arc<Room>, user: &str, host: &str, present: bool) {
        let mut st = room.write();
        let (kind, text, who) = match (st.position(user, Some(host)), present) {
            (None, true) => {
                st.members.push(Member {
                    name: user.into(),
                    origin: Some(host.into()),
                    sessions: 1,
                    nodes: Vec::new(),
                });
                let who = qualified(user, Some(host));
                (DeliveryKind::Join, replies::join_notice(&who), who)
            }
            (Some(i), false) => {
                st.members.remove(i);
                let who = qualified(user, Some(host));
                (DeliveryKind::Leave, replies::leave_notice(&who), who)
            }
            _ => return,
        };
        self.deliver(&st.sessions, kind, &who, &text);
        self.record(room, kind, &who, "");
    }

    /// Something for the sessions of `account` on this node.
    pub fn bus_user(&self, account: &str, msg: UserMsg) {
        match msg {
            UserMsg::Pm { from, text } => {
                self.deliver_pm_here(&from, account, &text);
            }
            UserMsg::Kick { text } => self.kick_here(account, &text),
        }
    }

    /// What this node has in each local subserver (its heartbeat).
    pub fn node_rooms(&self) -> NodeRooms {
        let mut out = NodeRooms::new();
        for r in self.local_rooms() {
            let st = r.read();
            let here: BTreeSet<String> = st
                .members
                .iter()
                .filter(|m| m.origin.is_none() && m.sessions > 0)
                .map(|m| m.name.to_string())
                .collect();
            if !here.is_empty() {
                out.insert(r.name.to_string(), here);
            }
        }
        out
    }

    /// Accounts logged in on this node and their distinct peer IPs (its heartbeat).
    pub fn online_here(&self) -> BTreeMap<String, Vec<IpAddr>> {
        let online = crate::sync::rd(&self.directory.online);
        online
            .iter()
            .map(|(a, list)| {
                let mut ips: Vec<IpAddr> = list.iter().map(|s| s.peer.ip()).collect();
                ips.sort();
                ips.dedup();
                (a.to_string(), ips)
            })
            .collect()
    }

    /// An account came online or went offline on another node, and is on no other:
    /// presence observers (capabilities) hear it unless it has sessions here.
    pub fn presence_elsewhere(&self, account: &str, online: bool) {
        if !self.is_online_here(account) {
            self.caps().presence(account, None, online);
        }
    }

    /// Makes `node`'s part of every local subserver what its heartbeat says, with
    /// the notices a difference implies (a node that died: `rooms` is empty).
    pub fn sync_node(&self, node: &str, rooms: &NodeRooms) {
        for r in self.local_rooms() {
            let want = rooms.get(&*r.name);
            let had: Vec<String> = r
                .read()
                .members
                .iter()
                .filter(|m| m.origin.is_none() && m.nodes.iter().any(|n| &**n == node))
                .map(|m| m.name.to_string())
                .collect();
            for gone in had.iter().filter(|a| !want.is_some_and(|w| w.contains(*a))) {
                self.node_presence(&r, gone, node, false);
            }
            for a in want.into_iter().flatten().filter(|a| !had.contains(a)) {
                self.node_presence(&r, a, node, true);
            }
        }
    }

    /// Records that `node` has (or no longer has) sessions of `account` in `room`;
    /// join and leave notices (shown and recorded here) only when the account's
    /// cluster-wide presence changes. Member hosts hear it from the node where it happened.
    fn node_presence(&self, room: &Arc<Room>, account: &str, node: &str, present: bool) {
        let mut st = room.write();
        let pos = st.position(account, None);
        let (kind, text) = match (pos, present) {
            (Some(i), true) => {
                let m = &mut st.members[i];
                if !m.nodes.iter().any(|n| &**n == node) {
                    m.nodes.push(node.into());
                }
                return;
            }
            (None, true) => {
                let nodes = vec![node.into()];
                st.members.push(Member { name: account.into(), origin: None, sessions: 0, nodes });
                (DeliveryKind::Join, replies::join_notice(account))
            }
            (Some(i), false) => {
                let m = &mut st.members[i];
                m.nodes.retain(|n| &**n != node);
                if m.sessions > 0 || !m.nodes.is_empty() {
                    return;
                }
                st.members.remove(i);
                (DeliveryKind::Leave, replies::leave_notice(account))
            }
            (None, false) => return,
        };
        self.deliver(&st.sessions, kind, account, &text);
        self.record(room, kind, account, "");
    }
}

impl Hub {
    /// Makes the subserver list what storage says (after the bus was down, when
    /// creations and deletions on other nodes may have been missed).
    pub async fn reload_rooms(&self) -> Result<(), crate::store::StoreError> {
        let stored = self.store.run(|s| s.rooms()).await?;
        for name in &stored {
            self.add_local_room(name);
        }
        for name in self.room_names() {
            if !stored.contains(&name) {
                self.drop_local_room(&name);
            }
        }
        Ok(())
    }
}
