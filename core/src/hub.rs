//! Who is online where: accounts ↔ sessions, subservers ↔ members (local and
//! `user@host`), and delivery — the one place a line goes out.
//!
//! The hub never awaits while holding a lock and never writes to a socket: it
//! only pushes pre-formatted bytes into session outboxes.

use crate::caps::{Capabilities, DeliveryKind, NoCapabilities};
use crate::federation::{Federation, NoFederation, RoomEvent};
use crate::outbox::{Outbox, Pushed};
use crate::store::Store;
use bytes::Bytes;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Instant;
use tokio::sync::Notify;

/// The shared half of one client connection: what delivery needs.
pub struct Session {
    /// Unique while the server runs.
    pub id: u64,
    /// The client's address.
    pub peer: SocketAddr,
    /// Lines waiting for this session's writer.
    pub outbox: Outbox,
    account: OnceLock<Arc<str>>,
    /// Fired to make the session end (ban, shutdown, overflow, idle).
    pub kick: Notify,
    /// Milliseconds since [`EPOCH`] of the last message from the client.
    last_active: AtomicU64,
}

/// The clock for idle timeouts.
static EPOCH: once_cell::sync::Lazy<Instant> = once_cell::sync::Lazy::new(Instant::now);

fn now_ms() -> u64 {
    EPOCH.elapsed().as_millis() as u64
}

impl Session {
    /// A new, not yet logged-in session.
    pub fn new(id: u64, peer: SocketAddr, outbox: Outbox) -> Self {
        Session {
            id,
            peer,
            outbox,
            account: OnceLock::new(),
            kick: Notify::new(),
            last_active: AtomicU64::new(now_ms()),
        }
    }

    /// Records client activity (any message, keep-alives included).
    pub fn touch(&self) {
        self.last_active.store(now_ms(), Ordering::Relaxed);
    }

    /// How long since the client last sent a message.
    pub fn idle_for(&self) -> std::time::Duration {
        std::time::Duration::from_millis(now_ms().saturating_sub(self.last_active.load(Ordering::Relaxed)))
    }

    /// The account once logged in.
    pub fn account(&self) -> Option<&Arc<str>> {
        self.account.get()
    }

    /// Queues a text (a `\n` is added).
    pub fn send(&self, text: &str) -> bool {
        self.push(line(text))
    }

    /// Queues a reply to this session's own command: it may use the outbox's
    /// reply headroom, so asking for a (bounded) list never counts as not reading.
    pub fn reply(&self, text: &str) -> bool {
        self.pushed(self.outbox.push_reply(line(text)))
    }

    /// Queues pre-formatted bytes; drops the session if its queue overflows.
    pub fn push(&self, bytes: Bytes) -> bool {
        self.pushed(self.outbox.push(bytes))
    }

    fn pushed(&self, result: Pushed) -> bool {
        match result {
            Pushed::Queued => true,
            Pushed::Closed => false,
            Pushed::Overflowed => {
                tracing::warn!(session = self.id, peer = %self.peer, account = ?self.account(), "outbound queue full: client is not reading; disconnecting it");
                self.kick.notify_one();
                false
            }
        }
    }
}

/// Formats a text as one outbound message.
pub fn line(text: &str) -> Bytes {
    let mut v = Vec::with_capacity(text.len() + 1);
    v.extend_from_slice(text.as_bytes());
    v.push(b'\n');
    Bytes::from(v)
}

/// One account present in a subserver.
#[derive(Debug, Clone)]
pub struct Member {
    /// Account name.
    pub name: Arc<str>,
    /// `None` for this host's accounts, else the user's home host.
    pub origin: Option<Arc<str>>,
    sessions: u32,
}

impl Member {
    /// `user` or `user@host`.
    pub fn display(&self) -> String {
        match &self.origin {
            None => self.name.to_string(),
            Some(h) => format!("{}@{}", self.name, h),
        }
    }
}

#[derive(Default)]
struct RoomState {
    sessions: Vec<Arc<Session>>,
    members: Vec<Member>,
}

/// A subserver: a local one (`home == None`) or this host's view of a remote one.
pub struct Room {
    /// The subserver's name on its home host.
    pub name: Arc<str>,
    /// The home host of a remote subserver.
    pub home: Option<Arc<str>>,
    state: RwLock<RoomState>,
    deleted: AtomicBool,
}

impl Room {
    fn new(name: &str, home: Option<&str>) -> Arc<Room> {
        Arc::new(Room {
            name: name.into(),
            home: home.map(Into::into),
            state: RwLock::default(),
            deleted: AtomicBool::new(false),
        })
    }

    /// How sessions see its name: `room` or `room@host`.
    pub fn label(&self) -> String {
        match &self.home {
            None => self.name.to_string(),
            Some(h) => format!("{}@{}", self.name, h),
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, RoomState> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, RoomState> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Members in join order, as `user` / `user@host`.
    pub fn member_names(&self) -> Vec<String> {
        self.read().members.iter().map(Member::display).collect()
    }

    /// Members in join order.
    pub fn members(&self) -> Vec<Member> {
        self.read().members.clone()
    }

    /// Hosts other than this one with members here (federation fan-out).
    pub fn remote_hosts(&self) -> Vec<Arc<str>> {
        let st = self.read();
        let mut hosts: Vec<Arc<str>> = Vec::new();
        for m in &st.members {
            if let Some(h) = &m.origin {
                if !hosts.contains(h) {
                    hosts.push(h.clone());
                }
            }
        }
        hosts
    }

    /// True once /delete_server removed it.
    pub fn is_deleted(&self) -> bool {
        self.deleted.load(Ordering::Relaxed)
    }
}

#[derive(Default)]
struct Rooms {
    order: Vec<Arc<Room>>,
    remote: HashMap<String, Arc<Room>>,
}

/// Settings the hub needs from the config.
#[derive(Debug, Clone)]
pub struct HubSettings {
    /// Advertised host name.
    pub host: String,
    /// The subserver that always exists.
    pub default_room: String,
    /// Accounts allowed to /ban and /delete_server.
    pub admins: Vec<String>,
    /// Reference-identical texts.
    pub legacy: bool,
    /// Where state lives.
    pub data_dir: PathBuf,
}

/// The shared state of the server, with one owner per piece.
pub struct Hub {
    settings: HubSettings,
    store: Store,
    listen_port: AtomicU16,
    next_id: AtomicU64,
    online: RwLock<HashMap<Arc<str>, Vec<Arc<Session>>>>,
    sessions: RwLock<HashMap<u64, Arc<Session>>>,
    connections: Mutex<HashMap<u64, Arc<Session>>>,
    rooms: RwLock<Rooms>,
    caps: OnceLock<Arc<dyn Capabilities>>,
    federation: OnceLock<Arc<dyn Federation>>,
    /// Effective administrators: `[server] admins` plus the database's (reloadable).
    admins: RwLock<Vec<String>>,
}

fn rd<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|p| p.into_inner())
}

fn wr<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|p| p.into_inner())
}

/// What happened when a session joined a subserver.
pub struct Joined {
    /// The account's first session there (join notice / `room_join` due).
    pub first: bool,
}

impl Hub {
    /// Builds the hub with the stored subservers (the default one first if new).
    pub fn new(settings: HubSettings, store: Store) -> Result<Arc<Hub>, crate::store::StoreError> {
        store.add_room(&settings.default_room)?;
        let mut admins = settings.admins.clone();
        admins.extend(store.admins()?);
        let mut rooms = Rooms::default();
        for name in store.rooms()? {
            rooms.order.push(Room::new(&name, None));
        }
        Ok(Arc::new(Hub {
            settings,
            store,
            listen_port: AtomicU16::new(0),
            next_id: AtomicU64::new(1),
            online: RwLock::default(),
            sessions: RwLock::default(),
            connections: Mutex::default(),
            rooms: RwLock::new(rooms),
            caps: OnceLock::new(),
            federation: OnceLock::new(),
            admins: RwLock::new(admins),
        }))
    }

    /// The settings this hub runs with.
    pub fn settings(&self) -> &HubSettings {
        &self.settings
    }

    /// Advertised host name.
    pub fn host(&self) -> &str {
        &self.settings.host
    }

    /// The actual bound main port.
    pub fn listen_port(&self) -> u16 {
        self.listen_port.load(Ordering::Relaxed)
    }

    /// Records the bound main port.
    pub fn set_listen_port(&self, port: u16) {
        self.listen_port.store(port, Ordering::Relaxed);
    }

    /// Where state lives.
    pub fn data_dir(&self) -> &Path {
        &self.settings.data_dir
    }

    /// The storage handle.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The loaded capabilities.
    pub fn caps(&self) -> &dyn Capabilities {
        match self.caps.get() {
            Some(c) => c.as_ref(),
            None => &NoCapabilities,
        }
    }

    /// Installs the capability registry (once, at startup).
    pub fn set_capabilities(&self, caps: Arc<dyn Capabilities>) {
        let _ = self.caps.set(caps);
    }

    /// The federation client.
    pub fn federation(&self) -> &dyn Federation {
        match self.federation.get() {
            Some(f) => f.as_ref(),
            None => &NoFederation,
        }
    }

    /// True once federation was started.
    pub fn federation_enabled(&self) -> bool {
        self.federation.get().is_some()
    }

    /// Installs federation (once, at startup).
    pub fn set_federation(&self, f: Arc<dyn Federation>) {
        let _ = self.federation.set(f);
    }

    /// A server-to-server request (capabilities use this); fails when federation is off.
    pub async fn s2s_request(&self, host: &str, json: serde_json::Value) -> Result<serde_json::Value, String> {
        self.federation().request(host, json).await
    }

    /// A fresh session id.
    pub fn next_session_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Is this account an administrator?
    pub fn is_admin(&self, account: &str) -> bool {
        rd(&self.admins).iter().any(|a| a == account)
    }

    /// Replaces the effective administrators (reload, `dmconnect admin`).
    pub fn set_admins(&self, admins: Vec<String>) {
        *wr(&self.admins) = admins;
    }

    // ---- connections, accounts and sessions ----

    fn connections(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Session>>> {
        self.connections.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a new client connection (logged in or not).
    pub fn connect(&self, session: &Arc<Session>) {
        self.connections().insert(session.id, session.clone());
    }

    /// Forgets a client connection.
    pub fn disconnect(&self, session: &Session) {
        self.connections().remove(&session.id);
    }

    /// Every client connection, logged in or not.
    pub fn all_connections(&self) -> Vec<Arc<Session>> {
        self.connections().values().cloned().collect()
    }

    /// Marks a session logged in; tells presence observers on the account's first session.
    pub fn login(&self, session: &Arc<Session>, account: &str) {
        let name: Arc<str> = account.into();
        let _ = session.account.set(name.clone());
        wr(&self.sessions).insert(session.id, session.clone());
        let first = {
            let mut online = wr(&self.online);
            let list = online.entry(name).or_default();
            list.push(session.clone());
            list.len() == 1
        };
        if first {
            self.caps().presence(account, None, true);
        }
    }

    /// Forgets a session (disconnect); leaves its room and tells presence observers
    /// when the account's last session went.
    pub fn logout(&self, session: &Arc<Session>, room: Option<&Arc<Room>>) {
        if let Some(room) = room {
            self.leave(room, session);
        }
        let Some(account) = session.account() else { return };
        wr(&self.sessions).remove(&session.id);
        let last = {
            let mut online = wr(&self.online);
            match online.get_mut(account) {
                Some(list) => {
                    list.retain(|s| s.id != session.id);
                    if list.is_empty() {
                        online.remove(account);
                        true
                    } else {
                        false
                    }
                }
                None => false,
            }
        };
        if last {
            self.caps().presence(account, None, false);
        }
    }

    /// Does this account have a session in the subserver?
    pub fn in_room(&self, room: &Room, account: &str) -> bool {
        room.read().members.iter().any(|m| m.origin.is_none() && &*m.name == account)
    }

    /// Is any session of this account logged in?
    pub fn is_online(&self, account: &str) -> bool {
        rd(&self.online).contains_key(account)
    }

    /// The logged-in sessions of an account.
    pub fn sessions_of(&self, account: &str) -> Vec<Arc<Session>> {
        rd(&self.online).get(account).cloned().unwrap_or_default()
    }

    /// Distinct peer IPs of an account's sessions, sorted.
    pub fn session_ips(&self, account: &str) -> Vec<IpAddr> {
        let mut ips: Vec<IpAddr> = self.sessions_of(account).iter().map(|s| s.peer.ip()).collect();
        ips.sort();
        ips.dedup();
        ips
    }

    /// Sends a text to every session of an account; false if it has none.
    pub fn send_to_account(&self, account: &str, text: &str) -> bool {
        let sessions = self.sessions_of(account);
        if sessions.is_empty() {
            return false;
        }
        let bytes = line(text);
        for s in &sessions {
            s.push(bytes.clone());
        }
        true
    }

    /// Sends a text to one logged-in session; false if it is gone.
    pub fn send_to_session(&self, session_id: u64, text: &str) -> bool {
        let session = rd(&self.sessions).get(&session_id).cloned();
        session.is_some_and(|s| s.send(text))
    }

    /// Delivers a private message to every session of a local account, asking the
    /// delivery filter. False if the account has no session.
    pub fn deliver_pm(&self, from: &str, to: &str, text: &str) -> bool {
        let sessions = self.sessions_of(to);
        if sessions.is_empty() {
            return false;
        }
        let caps = self.caps();
        if !caps.filters_delivery() || caps.allow(DeliveryKind::Pm, from, to) {
            let bytes = line(&crate::replies::private(from, text));
            for s in &sessions {
                s.push(bytes.clone());
            }
        }
        true
    }

    /// Kicks every session of an account (ban).
    pub fn kick_account(&self, account: &str, text: &str) {
        for s in self.sessions_of(account) {
            s.send(text);
            s.outbox.close();
            s.kick.notify_one();
        }
    }

    /// All sessions that are logged in (shutdown).
    pub fn all_sessions(&self) -> Vec<Arc<Session>> {
        rd(&self.sessions).values().cloned().collect()
    }

    /// How many accounts and sessions are online.
    pub fn online_counts(&self) -> (usize, usize) {
        (rd(&self.online).len(), rd(&self.sessions).len())
    }

    // ---- subservers ----

    /// Local subserver names in creation order.
    pub fn room_names(&self) -> Vec<String> {
        rd(&self.rooms).order.iter().map(|r| r.name.to_string()).collect()
    }

    /// A local subserver by name.
    pub fn room(&self, name: &str) -> Option<Arc<Room>> {
        rd(&self.rooms).order.iter().find(|r| &*r.name == name).cloned()
    }

    /// Creates a local subserver (stored first); `Ok(false)` if it exists.
    pub async fn create_room(&self, name: &str, creator: &str) -> Result<bool, crate::store::StoreError> {
        if self.room(name).is_some() {
            return Ok(false);
        }
        let n = name.to_owned();
        let c = creator.to_owned();
        if !self.store.run(move |s| s.add_room_by(&n, &c)).await? {
            return Ok(false);
        }
        let mut rooms = wr(&self.rooms);
        if !rooms.order.iter().any(|r| &*r.name == name) {
            rooms.order.push(Room::new(name, None));
        }
        Ok(true)
    }

    /// Deletes a local subserver; its sessions stay connected but are no longer in it.
    pub async fn delete_room(&self, name: &str) -> Result<bool, crate::store::StoreError> {
        let n = name.to_owned();
        let existed = self.store.run(move |s| s.delete_room(&n)).await?;
        let room = {
            let mut rooms = wr(&self.rooms);
            let pos = rooms.order.iter().position(|r| &*r.name == name);
            pos.map(|p| rooms.order.remove(p))
        };
        if let Some(room) = &room {
            room.deleted.store(true, Ordering::Relaxed);
            let bytes = line(&format!("Server '{name}' has been deleted."));
            let mut st = room.write();
            for s in &st.sessions {
                s.push(bytes.clone());
            }
            st.sessions.clear();
            st.members.clear();
        }
        Ok(existed || room.is_some())
    }

    /// This host's view of a remote subserver, created on first use.
    pub fn remote_room(&self, name: &str, host: &str) -> Arc<Room> {
        let key = format!("{name}@{host}");
        if let Some(r) = rd(&self.rooms).remote.get(&key) {
            return r.clone();
        }
        wr(&self.rooms).remote.entry(key).or_insert_with(|| Room::new(name, Some(host))).clone()
    }

    /// An existing view of a remote subserver.
    pub fn find_remote_room(&self, name: &str, host: &str) -> Option<Arc<Room>> {
        rd(&self.rooms).remote.get(&format!("{name}@{host}")).cloned()
    }

    /// Adds a local session to a subserver, queues `reply` to it first, then the
    /// join notice if this is the account's first session there.
    pub fn join(&self, room: &Arc<Room>, session: &Arc<Session>, reply: &str) -> Joined {
        let Some(account) = session.account().cloned() else { return Joined { first: false } };
        let mut st = room.write();
        st.sessions.push(session.clone());
        session.send(reply);
        let first = match st.members.iter_mut().find(|m| m.origin.is_none() && m.name == account) {
            Some(m) => {
                m.sessions += 1;
                false
            }
            None => {
                st.members.push(Member { name: account.clone(), origin: None, sessions: 1 });
                true
            }
        };
        // A remote subserver's home host announces joins back to us as room events.
        if first && room.home.is_none() {
            self.deliver_locked(room, &st, DeliveryKind::Join, &account, &crate::replies::join_notice(&account));
        }
        drop(st);
        if first && room.home.is_none() {
            self.fan_out(room, RoomEvent::joined(&account, self.host()));
        }
        Joined { first }
    }

    /// Removes a local session from a subserver; the leave notice goes out after the account's last session.
    /// Returns true when that was the account's last session there.
    pub fn leave(&self, room: &Arc<Room>, session: &Arc<Session>) -> bool {
        let Some(account) = session.account().cloned() else { return false };
        let mut st = room.write();
        let before = st.sessions.len();
        st.sessions.retain(|s| s.id != session.id);
        if st.sessions.len() == before {
            return false;
        }
        let Some(pos) = st.members.iter().position(|m| m.origin.is_none() && m.name == account) else { return false };
        st.members[pos].sessions -= 1;
        if st.members[pos].sessions > 0 {
            return false;
        }
        st.members.remove(pos);
        if room.home.is_none() {
            self.deliver_locked(room, &st, DeliveryKind::Leave, &account, &crate::replies::leave_notice(&account));
        }
        drop(st);
        if room.home.is_none() {
            self.fan_out(room, RoomEvent::left(&account, self.host()));
        } else if let Some(home) = &room.home {
            self.federation().leave_remote(&room.name, home, &account);
        }
        true
    }

    /// Adds a user of another host to a local subserver (federation `room_join`).
    /// False if the subserver does not exist.
    pub fn remote_join(&self, room_name: &str, user: &str, origin: &str) -> bool {
        let Some(room) = self.room(room_name) else { return false };
        let display = format!("{user}@{origin}");
        {
            let mut st = room.write();
            if st.members.iter().any(|m| m.origin.as_deref() == Some(origin) && &*m.name == user) {
                return true;
            }
            st.members.push(Member { name: user.into(), origin: Some(origin.into()), sessions: 1 });
            self.deliver_locked(&room, &st, DeliveryKind::Join, &display, &crate::replies::join_notice(&display));
        }
        self.fan_out(&room, RoomEvent::joined(user, origin));
        true
    }

    /// Removes a user of another host from a local subserver; false if not a member.
    pub fn remote_leave(&self, room_name: &str, user: &str, origin: &str) -> bool {
        let Some(room) = self.room(room_name) else { return false };
        let display = format!("{user}@{origin}");
        // The leaving host still gets the event, so fan out before removing it.
        let hosts = room.remote_hosts();
        {
            let mut st = room.write();
            let Some(pos) = st.members.iter().position(|m| m.origin.as_deref() == Some(origin) && &*m.name == user)
            else {
                return false;
            };
            st.members.remove(pos);
            self.deliver_locked(&room, &st, DeliveryKind::Leave, &display, &crate::replies::leave_notice(&display));
        }
        self.federation().room_event(&room.name, hosts, RoomEvent::left(user, origin));
        true
    }

    /// Chat from a user of another host in a local subserver; false if not a member.
    pub fn remote_say(&self, room_name: &str, user: &str, origin: &str, text: &str, is_act: bool) -> bool {
        let Some(room) = self.room(room_name) else { return false };
        if !room.read().members.iter().any(|m| m.origin.as_deref() == Some(origin) && &*m.name == user) {
            return false;
        }
        self.say(&room, user, Some(origin), text, is_act);
        true
    }

    /// Removes every member of `origin` from local subservers (its host died); or only those in `users`.
    pub fn drop_remote_members(&self, origin: &str, users: Option<&[String]>) {
        let rooms: Vec<Arc<Room>> = rd(&self.rooms).order.clone();
        for room in rooms {
            let gone: Vec<String> = room
                .read()
                .members
                .iter()
                .filter(|m| {
                    m.origin.as_deref() == Some(origin) && users.is_none_or(|u| u.iter().any(|x| **x == *m.name))
                })
                .map(|m| m.name.to_string())
                .collect();
            for user in gone {
                self.remote_leave(&room.name, &user, origin);
            }
        }
    }

    /// Users of `origin` that are members of local subservers.
    pub fn remote_members_of(&self, origin: &str) -> Vec<String> {
        let mut users = Vec::new();
        for room in rd(&self.rooms).order.iter() {
            for m in room.read().members.iter() {
                if m.origin.as_deref() == Some(origin) && !users.iter().any(|u: &String| **u == *m.name) {
                    users.push(m.name.to_string());
                }
            }
        }
        users
    }

    /// Hosts with members in any local subserver.
    pub fn member_hosts(&self) -> Vec<Arc<str>> {
        let mut hosts: Vec<Arc<str>> = Vec::new();
        for room in rd(&self.rooms).order.iter() {
            for h in room.remote_hosts() {
                if !hosts.contains(&h) {
                    hosts.push(h);
                }
            }
        }
        hosts
    }

    /// Chat or an action in a local subserver, from a local (`origin == None`) or remote user:
    /// delivered to local sessions and fanned out to member hosts.
    pub fn say(&self, room: &Arc<Room>, user: &str, origin: Option<&str>, text: &str, is_act: bool) {
        let display = match origin {
            None => user.to_owned(),
            Some(h) => format!("{user}@{h}"),
        };
        let (kind, msg) = if is_act {
            (DeliveryKind::Act, crate::replies::act(&display, text))
        } else {
            (DeliveryKind::Chat, crate::replies::chat(&display, text))
        };
        let hosts = {
            let st = room.read();
            self.deliver_locked(room, &st, kind, &display, &msg);
            if st.members.iter().any(|m| m.origin.is_some()) {
                room.remote_hosts()
            } else {
                Vec::new()
            }
        };
        if !hosts.is_empty() {
            let origin = origin.unwrap_or(self.host());
            let ev = if is_act { RoomEvent::act(user, origin, text) } else { RoomEvent::message(user, origin, text) };
            self.federation().room_event(&room.name, hosts, ev);
        }
    }

    /// A `room_event` from a remote subserver's home host, shown to this host's sessions in it.
    /// `sender_origin` equal to this host shows the plain name.
    pub fn remote_room_event(&self, room_name: &str, home: &str, event: &RoomEvent) -> bool {
        let Some(room) = self.find_remote_room(room_name, home) else { return false };
        let who = if event.sender_origin == self.host() {
            event.sender.clone()
        } else {
            format!("{}@{}", event.sender, event.sender_origin)
        };
        let (kind, msg) = match event.event.as_str() {
            "joined" => (DeliveryKind::Join, crate::replies::join_notice(&who)),
            "left" => (DeliveryKind::Leave, crate::replies::leave_notice(&who)),
            "act" => (DeliveryKind::Act, crate::replies::act(&who, &event.text)),
            _ => (DeliveryKind::Chat, crate::replies::chat(&who, &event.text)),
        };
        let st = room.read();
        self.deliver_locked(&room, &st, kind, &who, &msg);
        true
    }

    /// Sends a room event to every member host of a local subserver.
    fn fan_out(&self, room: &Arc<Room>, ev: RoomEvent) {
        let hosts = room.remote_hosts();
        if !hosts.is_empty() {
            self.federation().room_event(&room.name, hosts, ev);
        }
    }

    /// Pushes one formatted line to every session in the room, asking the delivery filter.
    fn deliver_locked(&self, _room: &Room, st: &RoomState, kind: DeliveryKind, from: &str, text: &str) {
        let bytes = line(text);
        let caps = self.caps();
        let filter = caps.filters_delivery();
        for s in &st.sessions {
            if filter {
                if let Some(to) = s.account() {
                    if !caps.allow(kind, from, to) {
                        continue;
                    }
                }
            }
            s.push(bytes.clone());
        }
    }
}
