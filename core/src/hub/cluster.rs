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

/// Per subserver, the users of other hosts whose join came through a node: (user, host).
pub type NodeRemoteMembers = BTreeMap<String, BTreeSet<(String, String)>>;

/// Per home host and subserver there, the accounts a node has sessions of in it.
pub type RemoteRooms = BTreeMap<String, BTreeMap<String, BTreeSet<String>>>;

/// What a dead node would have told other hosts: leave events for the member
/// hosts of local subservers, and `room_leave` for subservers of other hosts.
#[derive(Default)]
pub struct Departures {
    /// Accounts whose last session anywhere in a local subserver was on the dead node, with its member hosts then.
    local: Vec<(Arc<Room>, String, Vec<Arc<str>>)>,
    /// (subserver, home host, account) the dead node's sessions were in, and no live node's are.
    remote: Vec<(String, String, String)>,
}

impl Departures {
    /// Nothing to tell anyone.
    pub fn is_empty(&self) -> bool {
        self.local.iter().all(|(_, _, hosts)| hosts.is_empty()) && self.remote.is_empty()
    }
}

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
                    self.remote_member(&r, &account, &host, Some(node));
                }
            }
            RoomMsg::Left { account, origin: Some(host) } => {
                if let Some(r) = self.room(room) {
                    self.remote_member(&r, &account, &host, None);
                }
            }
        }
    }

    /// A user of another host joined (through node `via`) or left (`None`) a local
    /// subserver through another node: a member here too (so its host may reach
    /// any node), with the notice. `nodes` of such a member holds the node its join
    /// came through (empty: this one), for resynchronising after a bus outage.
    fn remote_member(&self, room: &Arc<Room>, user: &str, host: &str, via: Option<&str>) {
        let mut st = room.write();
        let (kind, text, who) = match (st.position(user, Some(host)), via) {
            (None, Some(node)) => {
                st.members.push(Member {
                    name: user.into(),
                    origin: Some(host.into()),
                    sessions: 1,
                    nodes: vec![node.into()],
                });
                let who = qualified(user, Some(host));
                (DeliveryKind::Join, replies::join_notice(&who), who)
            }
            (Some(i), None) => {
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
            let here = members_here(&r);
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
            self.report_presence(&account.into(), online);
        }
    }

    /// The users of other hosts whose join came through this node (its heartbeat).
    pub fn node_remote_members(&self) -> NodeRemoteMembers {
        let mut out = NodeRemoteMembers::new();
        for r in self.local_rooms() {
            let st = r.read();
            let here: BTreeSet<(String, String)> = st
                .members
                .iter()
                .filter(|m| m.nodes.is_empty())
                .filter_map(|m| m.origin.as_ref().map(|o| (m.name.to_string(), o.to_string())))
                .collect();
            if !here.is_empty() {
                out.insert(r.name.to_string(), here);
            }
        }
        out
    }

    /// Makes the users of other hosts whose join came through `node` what its
    /// heartbeat says (after this node was cut off from the bus, or `node` is new
    /// to it), with the notices a difference implies.
    pub fn resync_remote_members(&self, node: &str, members: &NodeRemoteMembers) {
        for r in self.local_rooms() {
            let want = members.get(&*r.name);
            let had: Vec<(String, String)> = r
                .read()
                .members
                .iter()
                .filter(|m| m.nodes.len() == 1 && &*m.nodes[0] == node)
                .filter_map(|m| m.origin.as_ref().map(|o| (m.name.to_string(), o.to_string())))
                .collect();
            for (user, host) in had.iter().filter(|m| !want.is_some_and(|w| w.contains(*m))) {
                tracing::info!(room = %r.name, %user, %host, %node, "cluster: resync: a user of another host left meanwhile");
                self.remote_member(&r, user, host, None);
            }
            for (user, host) in want.into_iter().flatten() {
                if !had.iter().any(|(u, h)| u == user && h == host) && r.read().position(user, Some(host)).is_none() {
                    tracing::info!(room = %r.name, %user, %host, %node, "cluster: resync: a user of another host joined meanwhile");
                    self.remote_member(&r, user, host, Some(node));
                }
            }
        }
    }

    /// What this node has in each subserver of other hosts (its heartbeat).
    pub fn node_remote_rooms(&self) -> RemoteRooms {
        let mut out = RemoteRooms::new();
        let remote: Vec<Arc<Room>> = crate::sync::rd(&self.rooms.0).remote.values().cloned().collect();
        for r in remote {
            let Some(home) = &r.home else { continue };
            let here = members_here(&r);
            if !here.is_empty() {
                out.entry(home.to_string()).or_default().insert(r.name.to_string(), here);
            }
        }
        out
    }

    /// `node` died: its sessions leave every local subserver (notices here), and
    /// the returned departures say what its member hosts would have heard from it.
    /// `dead_remote` is what it had in other hosts' subservers; `live_remote`, what
    /// the live nodes have there (an account still there through them stays).
    pub fn node_died(&self, node: &str, dead_remote: &RemoteRooms, live_remote: &RemoteRooms) -> Departures {
        let local = self.sync_node(node, &NodeRooms::new());
        let mut remote = Vec::new();
        let here = self.node_remote_rooms();
        for (home, rooms) in dead_remote {
            for (room, accounts) in rooms {
                for a in accounts {
                    let live = [live_remote, &here]
                        .iter()
                        .any(|m| m.get(home).and_then(|r| r.get(room)).is_some_and(|s| s.contains(a)));
                    if !live {
                        remote.push((room.clone(), home.clone(), a.clone()));
                    }
                }
            }
        }
        Departures { local, remote }
    }

    /// Sends what a dead node would have sent to other hosts (by one surviving node only).
    pub fn announce_departures(&self, d: Departures) {
        for (room, account, hosts) in d.local {
            tracing::info!(room = %room.name, account = %account, "cluster: telling member hosts that a dead node's user left");
            self.fan_out(&room, hosts, || crate::remote::RoomEvent::left(&account, self.host()));
        }
        for (room, home, account) in d.remote {
            tracing::info!(room = %room, home = %home, account = %account, "cluster: leaving another host's subserver for a dead node's user");
            self.federation().leave_remote(&room, &home, &account);
        }
    }

    /// Makes `node`'s part of every local subserver what its heartbeat says, with
    /// the notices a difference implies (a node that died: `rooms` is empty).
    /// Returns the accounts that left cluster-wide, with each subserver's member hosts.
    pub fn sync_node(&self, node: &str, rooms: &NodeRooms) -> Vec<(Arc<Room>, String, Vec<Arc<str>>)> {
        let mut left = Vec::new();
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
                if let Some(hosts) = self.node_presence(&r, gone, node, false) {
                    left.push((r.clone(), gone.clone(), hosts));
                }
            }
            for a in want.into_iter().flatten().filter(|a| !had.contains(a)) {
                self.node_presence(&r, a, node, true);
            }
        }
        left
    }

    /// Records that `node` has (or no longer has) sessions of `account` in `room`;
    /// join and leave notices (shown and recorded here) only when the account's
    /// cluster-wide presence changes. Member hosts hear it from the node where it happened.
    /// Returns the member hosts when the account left cluster-wide.
    fn node_presence(&self, room: &Arc<Room>, account: &str, node: &str, present: bool) -> Option<Vec<Arc<str>>> {
        let mut st = room.write();
        let pos = st.position(account, None);
        let (kind, text) = match (pos, present) {
            (Some(i), true) => {
                let m = &mut st.members[i];
                if !m.nodes.iter().any(|n| &**n == node) {
                    m.nodes.push(node.into());
                }
                return None;
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
                    return None;
                }
                st.members.remove(i);
                (DeliveryKind::Leave, replies::leave_notice(account))
            }
            (None, false) => return None,
        };
        self.deliver(&st.sessions, kind, account, &text);
        self.record(room, kind, account, "");
        (kind == DeliveryKind::Leave).then(|| st.remote_hosts())
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

/// The accounts with a session on this node in `room` (not other hosts' or nodes' members).
fn members_here(room: &Room) -> BTreeSet<String> {
    room.read().members.iter().filter(|m| m.origin.is_none() && m.sessions > 0).map(|m| m.name.to_string()).collect()
}
