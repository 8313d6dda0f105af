//! The bus over NATS. Subjects, under `dmc.<host>`:
//! `room.<room>` (a [`RoomMsg`], one per event whatever the member count),
//! `dialback` (a federation `dialback_check` for the node that sent the message;
//! request and reply),
//! `user.<account>` (a [`UserMsg`]), `kv.<capability>` (a key a capability
//! changed in its storage), `node.<node_id>` (a heartbeat carrying
//! the node's logged-in accounts and room members). A node delivers its own
//! events locally at once and skips its own messages (header `Dmc-Node`).
//! One publisher task keeps this node's messages in order.

use super::ClusterConfig;
use crate::bus::{Bus, RoomMsg, UserMsg};
use crate::hub::{Departures, Hub, NodeRemoteMembers, NodeRooms, RemoteRooms};
use async_nats::connection::State;
use async_nats::jetstream::kv;
use async_nats::{Client, HeaderMap, Message};
use bytes::Bytes;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

const NODE_HEADER: &str = "Dmc-Node";
/// Messages waiting for the publisher task; beyond this the bus counts as down.
const QUEUE: usize = 65_536;
/// How long a node waits for the others to judge a dialback check it cannot.
const DIALBACK_WAIT: Duration = Duration::from_secs(2);
/// How long an account's room presence entry is kept without a write.
const ROOMS_TTL: Duration = Duration::from_secs(24 * 3600);
/// How often a node rewrites the entries of its members, so present ones never expire.
const ROOMS_REFRESH: Duration = Duration::from_secs(3600);
/// How long the claim on a dead node's departures is kept (a node restarts with a new incarnation).
const CLAIM_TTL: Duration = Duration::from_secs(3600);

#[derive(Serialize, Deserialize)]
struct RoomEnvelope {
    room: String,
    msg: RoomMsg,
}

#[derive(Serialize, Deserialize)]
struct UserEnvelope {
    account: String,
    msg: UserMsg,
}

/// About a subserver of another host (`home`) that nodes' accounts are in.
#[derive(Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
enum RemoteEnvelope {
    /// The publishing node's `account` is joining (or left) `room@home`.
    Presence { room: String, home: String, account: String, present: bool },
    /// An event the home host sent to the publishing node.
    Event { room: String, home: String, event: String, sender: String, sender_origin: String, text: String },
}

#[derive(Serialize, Deserialize)]
struct KvEnvelope {
    cap: String,
    key: String,
}

#[derive(Serialize, Deserialize, Default)]
struct Beat {
    rooms: NodeRooms,
    /// Logged-in accounts and their distinct IPs.
    online: BTreeMap<String, Vec<IpAddr>>,
    /// The node's accounts in other hosts' subservers.
    #[serde(default)]
    remote: RemoteRooms,
    /// Random per process: tells a restarted node from the one that died.
    #[serde(default)]
    incarnation: u64,
    /// Users of other hosts whose join came through the node (`None`: a node that does not say).
    #[serde(default)]
    remote_members: Option<NodeRemoteMembers>,
}

struct Peer {
    seen: Instant,
    online: BTreeMap<String, Vec<IpAddr>>,
    remote: RemoteRooms,
    incarnation: u64,
    /// Its next heartbeat resynchronises its users of other hosts (new to us, or we were cut off).
    resync: bool,
}

/// This node's end of the bus.
pub struct NatsBus {
    node: Arc<str>,
    incarnation: u64,
    host: String,
    prefix: String,
    client: Client,
    /// JetStream key-value where one surviving node claims a dead node's departures.
    claims: Option<kv::Store>,
    /// JetStream key-value of which nodes have an account in a subserver.
    rooms: Option<kv::Store>,
    /// The NATS server answered as JetStream at start.
    jetstream: bool,
    out: mpsc::Sender<(String, Bytes)>,
    peers: Mutex<HashMap<String, Peer>>,
}

/// A subject token for any name: plain names as they are, others hex-coded after `~`.
fn token(name: &str) -> String {
    if !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return name.to_owned();
    }
    let hex: String = name.bytes().map(|b| format!("{b:02x}")).collect();
    format!("~{hex}")
}

/// Connects, subscribes and starts the publisher, receiver and heartbeat tasks.
pub async fn start(cfg: &ClusterConfig, hub: &Arc<Hub>) -> Result<Arc<NatsBus>, String> {
    let node: Arc<str> = cfg.node_id.as_str().into();
    let client = async_nats::ConnectOptions::new()
        .name(format!("dmconnect-{node}"))
        .connection_timeout(Duration::from_millis(cfg.nats_timeout_ms))
        .event_callback(|ev| async move {
            match ev {
                async_nats::Event::Connected => tracing::info!("cluster bus: {ev}"),
                _ => tracing::warn!("cluster bus: {ev}"),
            }
        })
        .connect(cfg.nats_url.as_str())
        .await
        .map_err(|e| format!("[cluster] nats_url {}: {e}", cfg.nats_url))?;
    let prefix = format!("dmc.{}", token(hub.host()));
    let sub = client.subscribe(format!("{prefix}.>")).await.map_err(|e| format!("[cluster] nats subscribe: {e}"))?;
    let (tx, rx) = mpsc::channel(QUEUE);
    let (jetstream, claims, rooms) = open_buckets(&client, hub.host()).await;
    let bus = Arc::new(NatsBus {
        node,
        incarnation: rand::random(),
        host: hub.host().to_owned(),
        prefix,
        client,
        jetstream,
        claims,
        rooms,
        out: tx,
        peers: Mutex::default(),
    });
    tokio::spawn(publish_loop(bus.client.clone(), bus.node.clone(), rx));
    tokio::spawn(receive_loop(Arc::downgrade(&bus), Arc::downgrade(hub), sub));
    let (beat, timeout) = (Duration::from_millis(cfg.heartbeat_ms), Duration::from_millis(cfg.node_timeout_ms));
    tokio::spawn(heartbeat_loop(Arc::downgrade(&bus), Arc::downgrade(hub), beat, timeout));
    tokio::spawn(refresh_rooms(Arc::downgrade(&bus), Arc::downgrade(hub)));
    tracing::info!(node = %bus.node, url = %cfg.nats_url, "cluster bus connected");
    Ok(bus)
}

/// Opens the key-value buckets of dead-node claims and room presence, once
/// JetStream answered at all (a server without it costs one short wait).
async fn open_buckets(client: &Client, host: &str) -> (bool, Option<kv::Store>, Option<kv::Store>) {
    let js = async_nats::jetstream::new(client.clone());
    match tokio::time::timeout(DIALBACK_WAIT, js.query_account()).await {
        Ok(Ok(_)) => {}
        e => {
            let why = match e {
                Ok(Err(e)) => e.to_string(),
                _ => "no answer".into(),
            };
            tracing::warn!(
                "cluster: no JetStream ({why}); without it, dialback checks about another node's message are \
                 forwarded to it, the live node with the lowest node_id tells other hosts that a dead node's users \
                 left, and an account joining or leaving a subserver on two nodes at the same moment may be told to \
                 member hosts twice or not at all"
            );
            return (false, None, None);
        }
    }
    let open = |kind: &str, what: &'static str, ttl: Duration, bytes: i64| {
        let (client, name) = (client.clone(), super::sent_kv::bucket(kind, host));
        async move {
            match super::sent_kv::open_bucket(client, &name, what, ttl, bytes).await {
                Ok(store) => Some(store),
                Err(e) => {
                    tracing::warn!(bucket = %name, "cluster: JetStream key-value bucket not opened ({e}); see docs/cluster.md");
                    None
                }
            }
        }
    };
    let (claims, rooms) = tokio::join!(
        open("claims", "dead nodes' departures", CLAIM_TTL, 1 << 20),
        open("rooms", "room presence", ROOMS_TTL, 64 << 20)
    );
    (true, claims, rooms)
}

/// Rewrites this node's room presence entries now and then: entries expire
/// (so those of accounts gone everywhere go away), those of present accounts must not.
async fn refresh_rooms(bus: Weak<NatsBus>, hub: Weak<Hub>) {
    let mut tick = tokio::time::interval(ROOMS_REFRESH);
    tick.tick().await;
    loop {
        tick.tick().await;
        let (Some(b), Some(h)) = (bus.upgrade(), hub.upgrade()) else { return };
        let rooms = h.node_rooms();
        drop(h);
        for (room, accounts) in rooms {
            for account in accounts {
                if let Some(write) = b.room_presence(&room, &account, true) {
                    write.await;
                }
            }
        }
    }
}

async fn publish_loop(client: Client, node: Arc<str>, mut rx: mpsc::Receiver<(String, Bytes)>) {
    while let Some((subject, payload)) = rx.recv().await {
        let mut headers = HeaderMap::new();
        headers.insert(NODE_HEADER, &*node);
        if let Err(e) = client.publish_with_headers(subject, headers, payload).await {
            tracing::warn!("cluster bus: publish failed: {e}");
        }
    }
}

async fn receive_loop(bus: Weak<NatsBus>, hub: Weak<Hub>, mut sub: async_nats::Subscriber) {
    while let Some(m) = sub.next().await {
        let (Some(bus), Some(hub)) = (bus.upgrade(), hub.upgrade()) else { return };
        bus.receive(&hub, m);
    }
}

async fn heartbeat_loop(bus: Weak<NatsBus>, hub: Weak<Hub>, every: Duration, timeout: Duration) {
    let mut tick = tokio::time::interval(every);
    let mut was_up = true;
    loop {
        tick.tick().await;
        let (Some(bus), Some(hub)) = (bus.upgrade(), hub.upgrade()) else { return };
        let up = bus.client.connection_state() == State::Connected;
        if up && !was_up {
            // We heard nothing while cut off: give every peer a fresh timeout, and take
            // its next heartbeat's users of other hosts as they are (joins we missed).
            crate::sync::lock(&bus.peers).values_mut().for_each(|p| {
                p.seen = Instant::now();
                p.resync = true;
            });
            tracing::info!("cluster bus: back; reloading subservers");
            let h = hub.clone();
            tokio::spawn(async move {
                if let Err(e) = h.reload_rooms().await {
                    tracing::warn!("cluster: cannot reload subservers: {e}");
                }
            });
        }
        was_up = up;
        let beat = Beat {
            rooms: hub.node_rooms(),
            online: hub.online_here(),
            remote: hub.node_remote_rooms(),
            incarnation: bus.incarnation,
            remote_members: Some(hub.node_remote_members()),
        };
        bus.publish(format!("{}.node.{}", bus.prefix, token(&bus.node)), &beat);
        if up {
            bus.sweep(&hub, timeout);
        }
    }
}

impl NatsBus {
    fn publish(&self, subject: String, body: &impl Serialize) {
        let Ok(json) = serde_json::to_vec(body) else { return };
        if self.out.try_send((subject, json.into())).is_err() {
            tracing::warn!("cluster bus: publish queue full, message dropped");
        }
    }

    /// Forgets nodes silent for longer than `timeout`: their sessions leave, and
    /// one surviving node tells other hosts what the dead node would have.
    fn sweep(&self, hub: &Arc<Hub>, timeout: Duration) {
        let dead: Vec<(String, RemoteRooms, u64)> = {
            let peers = crate::sync::lock(&self.peers);
            peers
                .iter()
                .filter(|(_, p)| p.seen.elapsed() > timeout)
                .map(|(n, p)| (n.clone(), p.remote.clone(), p.incarnation))
                .collect()
        };
        for (node, dead_remote, incarnation) in dead {
            tracing::warn!(%node, "cluster: node silent for {} ms, its sessions are gone", timeout.as_millis());
            self.set_online(hub, &node, None);
            let (live_remote, live_nodes) = {
                let peers = crate::sync::lock(&self.peers);
                let mut live = RemoteRooms::new();
                for p in peers.values() {
                    for (home, rooms) in &p.remote {
                        for (room, accounts) in rooms {
                            live.entry(home.clone())
                                .or_default()
                                .entry(room.clone())
                                .or_default()
                                .extend(accounts.iter().cloned());
                        }
                    }
                }
                (live, peers.keys().cloned().collect::<Vec<String>>())
            };
            let departures = hub.node_died(&node, &dead_remote, &live_remote);
            if !departures.is_empty() {
                let lowest = live_nodes.iter().all(|n| **n > *self.node);
                let claim =
                    self.claims.clone().map(|c| (c, format!("dead.{node}.{incarnation:016x}"), self.node.clone()));
                tokio::spawn(announce(hub.clone(), departures, claim, lowest));
            }
        }
    }

    /// Records who is online on `node` (`None`: it is gone); presence observers
    /// hear about accounts whose cluster-wide state changed.
    fn set_online(&self, hub: &Hub, node: &str, now: Option<BTreeMap<String, Vec<IpAddr>>>) {
        let (came, went) = {
            let mut peers = crate::sync::lock(&self.peers);
            let old = match now {
                Some(online) => {
                    let (remote, incarnation, resync) = peers
                        .get_mut(node)
                        .map(|p| (std::mem::take(&mut p.remote), p.incarnation, p.resync))
                        .unwrap_or((RemoteRooms::new(), 0, true));
                    let peer = Peer { seen: Instant::now(), online, remote, incarnation, resync };
                    let old = peers.insert(node.to_owned(), peer);
                    if old.is_none() {
                        tracing::info!(%node, "cluster: node up");
                    }
                    old
                }
                None => peers.remove(node),
            };
            let old = old.map(|p| p.online).unwrap_or_default();
            let new = peers.get(node).map(|p| &p.online);
            let elsewhere = |a: &str| peers.iter().any(|(n, p)| n != node && p.online.contains_key(a));
            let came: Vec<String> = new
                .into_iter()
                .flat_map(|m| m.keys())
                .filter(|a| !old.contains_key(*a) && !elsewhere(a))
                .cloned()
                .collect();
            let went: Vec<String> =
                old.keys().filter(|a| !new.is_some_and(|m| m.contains_key(*a)) && !elsewhere(a)).cloned().collect();
            (came, went)
        };
        came.iter().for_each(|a| hub.presence_elsewhere(a, true));
        went.iter().for_each(|a| hub.presence_elsewhere(a, false));
    }

    fn receive(&self, hub: &Hub, m: Message) {
        let from = m.headers.as_ref().and_then(|h| h.get(NODE_HEADER)).map(|v| v.as_str().to_owned());
        let Some(from) = from.filter(|f| **f != *self.node) else { return };
        let Some(rest) = m.subject.as_str().strip_prefix(&self.prefix) else { return };
        let kind = rest.trim_start_matches('.').split('.').next().unwrap_or("");
        match kind {
            "room" => match serde_json::from_slice::<RoomEnvelope>(&m.payload) {
                Ok(e) => hub.bus_room(&from, &e.room, e.msg),
                Err(e) => tracing::warn!(%from, "cluster bus: bad room message: {e}"),
            },
            "user" => match serde_json::from_slice::<UserEnvelope>(&m.payload) {
                Ok(e) => hub.bus_user(&e.account, e.msg),
                Err(e) => tracing::warn!(%from, "cluster bus: bad user message: {e}"),
            },
            "kv" => match serde_json::from_slice::<KvEnvelope>(&m.payload) {
                Ok(e) => hub.caps().kv_changed(&e.cap, &e.key),
                Err(e) => tracing::warn!(%from, "cluster bus: bad storage change: {e}"),
            },
            "dialback" => self.answer_dialback(hub, &m),
            "remote" => match serde_json::from_slice::<RemoteEnvelope>(&m.payload) {
                Ok(e) => self.remote_received(hub, &from, e),
                Err(e) => tracing::warn!(%from, "cluster bus: bad remote subserver message: {e}"),
            },
            "node" => match serde_json::from_slice::<Beat>(&m.payload) {
                Ok(b) => {
                    self.set_online(hub, &from, Some(b.online));
                    let resync = match crate::sync::lock(&self.peers).get_mut(&from) {
                        Some(p) => {
                            p.remote = b.remote;
                            p.incarnation = b.incarnation;
                            std::mem::replace(&mut p.resync, false)
                        }
                        None => false,
                    };
                    hub.sync_node(&from, &b.rooms);
                    if let (true, Some(members)) = (resync, &b.remote_members) {
                        hub.resync_remote_members(&from, members);
                    }
                }
                Err(e) => tracing::warn!(%from, "cluster bus: bad heartbeat: {e}"),
            },
            _ => {}
        }
    }
}

/// Sends a dead node's departures if this node wins the claim on them: a
/// JetStream key created once (exactly one node succeeds), or without
/// JetStream, being the live node with the lowest `node_id`.
async fn announce(hub: Arc<Hub>, d: Departures, claim: Option<(kv::Store, String, Arc<str>)>, lowest: bool) {
    let mine = match claim {
        Some((store, key, me)) => {
            match tokio::time::timeout(DIALBACK_WAIT, store.create(&key, me.as_bytes().to_vec().into())).await {
                Ok(Ok(_)) => true,
                Ok(Err(e)) if e.kind() == kv::CreateErrorKind::AlreadyExists => false,
                _ => {
                    tracing::warn!(%key, "cluster: cannot claim a dead node's departures; deciding by lowest node_id");
                    lowest
                }
            }
        }
        None => lowest,
    };
    if mine {
        hub.announce_departures(d);
    }
}

impl NatsBus {
    /// Another node's account joined or left a subserver of another host, or
    /// that host sent an event of it to another node.
    fn remote_received(&self, hub: &Hub, from: &str, e: RemoteEnvelope) {
        match e {
            RemoteEnvelope::Presence { room, home, account, present } => {
                let mut peers = crate::sync::lock(&self.peers);
                let Some(p) = peers.get_mut(from) else { return };
                if present {
                    p.remote.entry(home).or_default().entry(room).or_default().insert(account);
                } else if let Some(rooms) = p.remote.get_mut(&home) {
                    if let Some(accounts) = rooms.get_mut(&room) {
                        accounts.remove(&account);
                        if accounts.is_empty() {
                            rooms.remove(&room);
                        }
                    }
                    if rooms.is_empty() {
                        p.remote.remove(&home);
                    }
                }
            }
            RemoteEnvelope::Event { room, home, event, sender, sender_origin, text } => {
                let ev = crate::remote::RoomEvent { event, sender, sender_origin, text };
                crate::federation::home::remote_room_event(hub, &room, &home, &ev);
            }
        }
    }

    /// Another node asks whether this one sent the message a `dialback_check` is about.
    fn answer_dialback(&self, hub: &Hub, m: &Message) {
        let Some(reply) = m.reply.clone() else { return };
        let check = serde_json::from_slice::<serde_json::Value>(&m.payload).ok();
        let verdict = check.and_then(|c| hub.federation().vouch_here(&c));
        let body = serde_json::to_vec(&verdict).unwrap_or_default();
        let client = self.client.clone();
        tokio::spawn(async move {
            if let Err(e) = client.publish(reply, body.into()).await {
                tracing::warn!("cluster bus: dialback answer not sent: {e}");
            }
        });
    }
}

/// Asks every other node (`peers` of them) about a dialback check; the first node
/// that knows the id decides. Bounded by [`DIALBACK_WAIT`].
async fn ask_nodes(
    client: Client,
    node: Arc<str>,
    subject: String,
    peers: usize,
    check: serde_json::Value,
) -> Option<bool> {
    let inbox = client.new_inbox();
    let mut sub = client.subscribe(inbox.clone()).await.ok()?;
    let mut headers = HeaderMap::new();
    headers.insert(NODE_HEADER, &*node);
    let body = serde_json::to_vec(&check).ok()?;
    client.publish_with_reply_and_headers(subject, inbox, headers, body.into()).await.ok()?;
    let deadline = tokio::time::Instant::now() + DIALBACK_WAIT;
    for _ in 0..peers {
        let m = tokio::time::timeout_at(deadline, sub.next()).await.ok()??;
        if let Ok(Some(verdict)) = serde_json::from_slice::<Option<bool>>(&m.payload) {
            return Some(verdict);
        }
    }
    None
}

impl Bus for NatsBus {
    fn room(&self, room: &str, msg: RoomMsg) {
        let subject = format!("{}.room.{}", self.prefix, token(room));
        self.publish(subject, &RoomEnvelope { room: room.into(), msg });
    }

    fn user(&self, account: &str, msg: UserMsg) {
        let subject = format!("{}.user.{}", self.prefix, token(account));
        self.publish(subject, &UserEnvelope { account: account.into(), msg });
    }

    fn online_elsewhere(&self, account: &str) -> bool {
        crate::sync::lock(&self.peers).values().any(|p| p.online.contains_key(account))
    }

    fn ips_elsewhere(&self, account: &str) -> Vec<IpAddr> {
        let peers = crate::sync::lock(&self.peers);
        peers.values().filter_map(|p| p.online.get(account)).flatten().copied().collect()
    }

    fn kv_changed(&self, cap: &str, key: &str) {
        let subject = format!("{}.kv.{}", self.prefix, token(cap));
        self.publish(subject, &KvEnvelope { cap: cap.into(), key: key.into() });
    }

    fn vouch_elsewhere(&self, check: serde_json::Value) -> Option<crate::bus::BoxFuture<'static, Option<bool>>> {
        let peers = crate::sync::lock(&self.peers).len();
        let subject = format!("{}.dialback", self.prefix);
        (peers > 0).then(|| {
            let fut = ask_nodes(self.client.clone(), self.node.clone(), subject, peers, check);
            Box::pin(fut) as crate::bus::BoxFuture<'static, Option<bool>>
        })
    }

    fn room_presence(
        &self,
        room: &str,
        account: &str,
        present: bool,
    ) -> Option<crate::bus::BoxFuture<'static, Option<bool>>> {
        // Cut off from NATS: not worth waiting for; this node's view decides.
        let store = self.rooms.clone().filter(|_| self.client.connection_state() == State::Connected)?;
        let live: Vec<String> = crate::sync::lock(&self.peers).keys().cloned().collect();
        let key = super::presence_kv::key(room, account);
        Some(Box::pin(super::presence_kv::change(store, key, self.node.to_string(), live, present)))
    }

    fn remote_presence(&self, room: &str, home: &str, account: &str, present: bool) {
        let subject = format!("{}.remote.{}", self.prefix, token(home));
        let e = RemoteEnvelope::Presence { room: room.into(), home: home.into(), account: account.into(), present };
        self.publish(subject, &e);
    }

    fn remote_elsewhere(&self, room: &str, home: &str) -> bool {
        let peers = crate::sync::lock(&self.peers);
        peers.values().any(|p| p.remote.get(home).and_then(|r| r.get(room)).is_some_and(|a| !a.is_empty()))
    }

    fn remote_event(&self, room: &str, home: &str, ev: &crate::remote::RoomEvent) {
        let subject = format!("{}.remote.{}", self.prefix, token(home));
        let e = RemoteEnvelope::Event {
            room: room.into(),
            home: home.into(),
            event: ev.event.clone(),
            sender: ev.sender.clone(),
            sender_origin: ev.sender_origin.clone(),
            text: ev.text.clone(),
        };
        self.publish(subject, &e);
    }

    fn sent_store(
        &self,
        ttl: Duration,
    ) -> Option<crate::bus::BoxFuture<'static, Result<Arc<dyn crate::bus::SharedSent>, String>>> {
        let (client, host, js) = (self.client.clone(), self.host.clone(), self.jetstream);
        Some(Box::pin(async move {
            if !js {
                return Err("the NATS server has no JetStream".into());
            }
            super::sent_kv::open(client, &host, ttl).await
        }))
    }

    fn trouble(&self) -> Option<String> {
        (self.client.connection_state() != State::Connected)
            .then(|| "The cluster is unreachable from this node right now; please try again shortly.".to_string())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_are_safe_subject_parts() {
        assert_eq!(super::token("general"), "general");
        assert_eq!(super::token("a.b"), "~612e62");
        assert_eq!(super::token(""), "~");
    }
}
