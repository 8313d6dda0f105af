//! Who is online: every connection, logged-in sessions by id and by account;
//! login and logout (with presence), sending to an account or a session,
//! private messages and kicks.

use super::handle::{line, SessionHandle};
use super::room::Room;
use super::state::Hub;
use crate::bus::UserMsg;
use crate::caps::DeliveryKind;
use crate::sync::{lock, rd, wr};
use std::net::IpAddr;
use std::sync::Arc;

impl Hub {
    /// Registers a new client connection (logged in or not).
    pub fn connect(&self, session: &Arc<SessionHandle>) {
        lock(&self.directory.connections).insert(session.id, session.clone());
    }

    /// Forgets a client connection.
    pub fn disconnect(&self, session: &SessionHandle) {
        lock(&self.directory.connections).remove(&session.id);
    }

    /// Every client connection, logged in or not.
    pub fn all_connections(&self) -> Vec<Arc<SessionHandle>> {
        lock(&self.directory.connections).values().cloned().collect()
    }

    /// Marks a session logged in; tells presence observers on the account's first session.
    pub fn login(&self, session: &Arc<SessionHandle>, account: &str) {
        let name: Arc<str> = account.into();
        let _ = session.account.set(name.clone());
        wr(&self.directory.sessions).insert(session.id, session.clone());
        let first = {
            let mut online = wr(&self.directory.online);
            // Most accounts have one session: no room for four.
            let list = online.entry(name.clone()).or_insert_with(|| Vec::with_capacity(1));
            list.push(session.clone());
            list.len() == 1
        };
        if first && !self.bus().online_elsewhere(account) {
            self.report_presence(&name, true);
        }
    }

    /// Forgets a session (disconnect); leaves its room and tells presence observers
    /// when the account's last session went.
    pub fn logout(&self, session: &Arc<SessionHandle>, room: Option<&Arc<Room>>) {
        if let Some(room) = room {
            self.leave(room, session);
        }
        let Some(account) = session.account() else { return };
        wr(&self.directory.sessions).remove(&session.id);
        let last = {
            let mut online = wr(&self.directory.online);
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
        if last && !self.bus().online_elsewhere(account) {
            self.report_presence(account, false);
        }
    }

    /// Tells presence observers that `account` came online or went offline
    /// cluster-wide, unless they were told so last (see `Directory::reported`).
    pub(super) fn report_presence(&self, account: &Arc<str>, online: bool) {
        // Held while telling, so two changes of one account are told in order.
        let mut reported = lock(&self.directory.reported);
        // The name shared with the session's: no copy per online account.
        let changed = if online { reported.insert(account.clone()) } else { reported.remove(&**account) };
        if changed {
            self.caps().presence(account, None, online);
        }
    }

    /// How many accounts and sessions are online (metrics).
    pub fn online_counts(&self) -> (usize, usize) {
        (rd(&self.directory.online).len(), rd(&self.directory.sessions).len())
    }

    /// Is any session of this account logged in?
    pub fn is_online(&self, account: &str) -> bool {
        rd(&self.directory.online).contains_key(account) || self.bus().online_elsewhere(account)
    }

    /// Is any session of this account logged in on this node?
    pub fn is_online_here(&self, account: &str) -> bool {
        rd(&self.directory.online).contains_key(account)
    }

    /// The logged-in sessions of an account.
    pub fn sessions_of(&self, account: &str) -> Vec<Arc<SessionHandle>> {
        rd(&self.directory.online).get(account).cloned().unwrap_or_default()
    }

    /// Distinct peer IPs of an account's sessions, sorted.
    pub fn session_ips(&self, account: &str) -> Vec<IpAddr> {
        let mut ips: Vec<IpAddr> = self.sessions_of(account).iter().map(|s| s.peer.ip()).collect();
        ips.extend(self.bus().ips_elsewhere(account));
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
        let session = rd(&self.directory.sessions).get(&session_id).cloned();
        session.is_some_and(|s| s.send(text))
    }

    /// Delivers a private message to every session of a local account on any
    /// node, asking the delivery filter. False if the account has no session.
    pub fn deliver_pm(&self, from: &str, to: &str, text: &str) -> bool {
        let elsewhere = self.bus().online_elsewhere(to);
        if elsewhere {
            self.bus().user(to, UserMsg::Pm { from: from.into(), text: text.into() });
        }
        self.deliver_pm_here(from, to, text) || elsewhere
    }

    /// [`Hub::deliver_pm`] to this node's sessions only.
    pub fn deliver_pm_here(&self, from: &str, to: &str, text: &str) -> bool {
        let sessions = self.sessions_of(to);
        if sessions.is_empty() {
            return false;
        }
        self.deliver(&sessions, DeliveryKind::Pm, from, &crate::replies::private(from, text));
        true
    }

    /// Kicks every session of an account on every node (ban).
    pub fn kick_account(&self, account: &str, text: &str) {
        self.bus().user(account, UserMsg::Kick { text: text.into() });
        self.kick_here(account, text);
    }

    /// Kicks every session of an account on this node (a ban).
    pub fn kick_here(&self, account: &str, text: &str) {
        for s in self.sessions_of(account) {
            s.kick_with(text, "ban");
        }
    }
}
