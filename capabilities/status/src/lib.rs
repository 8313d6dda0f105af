//! The `status` capability: `/status-check`, and subscriptions that tell the
//! subscriber when a user's first session logs in and its last one goes.
//!
//! Remote users (`USER@HOST`) work through federation: `status_request` (the
//! core answers it) for checks, and this capability's own message types for
//! subscriptions: `presence_subscribe` / `presence_unsubscribe` (subscriber host
//! → target host) and `presence_update` (target host → subscriber host).
//!
//! Texts the protocol leaves open: an unknown local account gets `User does not exist.`
//! (as `/pm` does) from `/status-check` and `/status-sub-add`; an unreachable
//! host gets `Failed to check the status of USER@HOST.` / `Failed to subscribe to USER@HOST.`
//!
//! Storage (all loaded into memory at start, so presence events never read it):
//! `subs/ACCOUNT` = the account's targets in the order added (JSON array), and
//! `remote/TARGET` = `user@host` subscribers on other hosts of a local TARGET.
//!
//! Cluster mode: a list changed on another node is re-read (`kv_changed`); the
//! presence hook runs on every node and each node tells its own sessions. Each
//! node may send the same `presence_update`, so a receiver passes on only changes.

use plugin_api::serde_json::{self, json, Value};
use plugin_api::{Caller, Capability, Command, Host, Presence, Reply};
use std::collections::HashMap;
use std::sync::{Mutex, RwLock};

/// The capability.
pub struct Status {
    host: Host,
    state: RwLock<State>,
    /// Serialises changes so memory and storage agree; presence events never wait on it.
    saving: Mutex<()>,
}

#[derive(Default)]
struct State {
    /// account → targets (`user` or `user@host`).
    subs: HashMap<String, Vec<String>>,
    /// target → local accounts subscribed to it (the index of `subs` that presence events read).
    watchers: HashMap<String, Vec<String>>,
    /// local target → subscribers on other hosts (`user@host`).
    remote: HashMap<String, Vec<String>>,
    /// `user@host` → the last state its host reported (drops repeats).
    reported: HashMap<String, bool>,
}

impl State {
    /// Replaces an account's targets, keeping the index in step.
    fn set_subs(&mut self, account: &str, list: Vec<String>) {
        for t in self.subs.remove(account).unwrap_or_default() {
            if let Some(w) = self.watchers.get_mut(&t) {
                w.retain(|a| a != account);
                if w.is_empty() {
                    self.watchers.remove(&t);
                }
            }
        }
        for t in &list {
            self.watchers.entry(t.clone()).or_default().push(account.to_owned());
        }
        if !list.is_empty() {
            self.subs.insert(account.to_owned(), list);
        }
    }
}

/// A parsed user argument.
struct Target {
    user: String,
    /// `None` for this host.
    host: Option<String>,
}

impl Target {
    fn display(&self) -> String {
        match &self.host {
            None => self.user.clone(),
            Some(h) => format!("{}@{h}", self.user),
        }
    }
}

const SAVE_FAILED: &str = "Could not save your subscriptions. Please try again later.";
const NO_USER: &str = "User does not exist.";
const STORAGE_FAILED: &str = "Could not check that user right now. Please try again later.";

fn valid_name(n: &str) -> bool {
    !n.is_empty() && n.len() <= 64 && !n.contains(|c: char| c.is_whitespace() || c.is_control() || c == ',' || c == '@')
}

fn load(host: &Host, prefix: &str) -> Result<HashMap<String, Vec<String>>, String> {
    let mut map = HashMap::new();
    for (key, value) in host.kv_list(prefix)? {
        if let Some(list) = parse(host, &key, &value) {
            map.insert(key[prefix.len()..].to_owned(), list);
        }
    }
    Ok(map)
}

fn parse(host: &Host, key: &str, value: &str) -> Option<Vec<String>> {
    serde_json::from_str::<Vec<String>>(value)
        .map_err(|e| host.warn(&format!("skipping unreadable stored entry {key}: {e}")))
        .ok()
}

fn ok() -> String {
    json!({"status": "ok"}).to_string()
}

fn error(reason: &str) -> String {
    json!({"status": "error", "reason": reason}).to_string()
}

fn field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).filter(|s| valid_name(s))
}

impl Status {
    /// Loads the stored subscriptions.
    pub fn new(host: Host) -> Result<Status, String> {
        let mut state = State { remote: load(&host, "remote/")?, ..State::default() };
        for (account, list) in load(&host, "subs/")? {
            state.set_subs(&account, list);
        }
        Ok(Status { host, state: RwLock::new(state), saving: Mutex::new(()) })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    fn parse(&self, args: &str) -> Option<Target> {
        let arg = args.trim();
        if arg.contains(char::is_whitespace) {
            return None;
        }
        let (user, host) = match arg.split_once('@') {
            Some((u, h)) if !h.is_empty() && h != self.host.host_name() => (u, Some(h.to_owned())),
            Some((u, _)) => (u, None),
            None => (arg, None),
        };
        valid_name(user).then(|| Target { user: user.to_owned(), host })
    }

    /// Stores one list (deleting it when empty).
    fn store(&self, key: &str, list: &[String]) -> Result<(), String> {
        if list.is_empty() {
            self.host.kv_delete(key).map(|_| ())
        } else {
            self.host.kv_set(key, &serde_json::to_string(list).map_err(|e| e.to_string())?)
        }
    }

    /// Saves the caller's new target list, then makes it live.
    fn save_subs(&self, account: &str, list: Vec<String>) -> Result<(), String> {
        self.store(&format!("subs/{account}"), &list)?;
        self.write().set_subs(account, list);
        Ok(())
    }

    fn subs_of(&self, account: &str) -> Vec<String> {
        self.read().subs.get(account).cloned().unwrap_or_default()
    }

    /// Does the local user exist? `Err` carries the reply when storage failed.
    fn exists(&self, user: &str) -> Result<bool, String> {
        if self.host.is_online(user) {
            return Ok(true);
        }
        self.host.account_exists(user).map_err(|e| {
            self.host.error(&format!("checking account {user}: {e}"));
            STORAGE_FAILED.to_owned()
        })
    }

    fn check(&self, t: &Target) -> String {
        let shown = t.display();
        let online = match &t.host {
            None => match self.exists(&t.user) {
                Ok(false) => return NO_USER.into(),
                Err(reply) => return reply,
                Ok(true) => self.host.is_online(&t.user),
            },
            Some(h) => {
                let req = json!({"type": "status_request", "usernames": [t.user]}).to_string();
                let answer = self.host.s2s_request(h, &req).ok().and_then(|a| serde_json::from_str::<Value>(&a).ok());
                match answer.as_ref().and_then(|a| a.get("online_map")?.get(&t.user)?.as_bool()) {
                    Some(b) => b,
                    None => return format!("Failed to check the status of {shown}."),
                }
            }
        };
        format!("{shown} is {}.", if online { "online" } else { "offline" })
    }

    fn add(&self, me: &str, t: &Target) -> String {
        let shown = t.display();
        if t.host.is_none() && t.user == me {
            return "You cannot subscribe to yourself.".into();
        }
        let _guard = self.saving.lock().unwrap_or_else(|p| p.into_inner());
        let mut list = self.subs_of(me);
        if list.contains(&shown) {
            return format!("Already subscribed to {shown}.");
        }
        match &t.host {
            None => match self.exists(&t.user) {
                Ok(true) => {}
                Ok(false) => return NO_USER.into(),
                Err(reply) => return reply,
            },
            Some(h) => {
                let req = json!({"type": "presence_subscribe", "subscriber": me, "target": t.user}).to_string();
                let answer = self.host.s2s_request(h, &req).ok().and_then(|a| serde_json::from_str::<Value>(&a).ok());
                let status = answer.as_ref().and_then(|a| a.get("status")?.as_str());
                let reason = answer.as_ref().and_then(|a| a.get("reason")?.as_str());
                match (status, reason) {
                    (Some("ok"), _) => {}
                    (_, Some("user_not_found")) => return NO_USER.into(),
                    _ => return format!("Failed to subscribe to {shown}."),
                }
            }
        }
        list.push(shown.clone());
        match self.save_subs(me, list) {
            Ok(()) => format!("Subscribed to {shown}."),
            Err(e) => {
                self.host.error(&format!("saving subscriptions of {me}: {e}"));
                SAVE_FAILED.into()
            }
        }
    }

    /// Tells the target's host that `me` no longer follows it.
    fn unsubscribe_remote(&self, me: &str, target: &str) {
        if let Some((user, host)) = target.split_once('@') {
            let msg = json!({"type": "presence_unsubscribe", "subscriber": me, "target": user}).to_string();
            self.host.s2s_send(host, &msg);
        }
    }

    fn del(&self, me: &str, t: &Target) -> String {
        let shown = t.display();
        let _guard = self.saving.lock().unwrap_or_else(|p| p.into_inner());
        let mut list = self.subs_of(me);
        let Some(pos) = list.iter().position(|x| *x == shown) else { return format!("Not subscribed to {shown}.") };
        list.remove(pos);
        if let Err(e) = self.save_subs(me, list) {
            self.host.error(&format!("saving subscriptions of {me}: {e}"));
            return SAVE_FAILED.into();
        }
        self.unsubscribe_remote(me, &shown);
        format!("Unsubscribed from {shown}.")
    }

    fn clear(&self, me: &str) -> String {
        let _guard = self.saving.lock().unwrap_or_else(|p| p.into_inner());
        let old = self.subs_of(me);
        if let Err(e) = self.save_subs(me, Vec::new()) {
            self.host.error(&format!("clearing subscriptions of {me}: {e}"));
            return SAVE_FAILED.into();
        }
        for t in &old {
            self.unsubscribe_remote(me, t);
        }
        "Subscriptions cleared.".into()
    }

    /// `presence_subscribe` / `presence_unsubscribe` from `from_host` about a local target.
    fn remote_sub(&self, subscribe: bool, from_host: &str, v: &Value) -> String {
        let (Some(sub), Some(target)) = (field(v, "subscriber"), field(v, "target")) else {
            return error("invalid subscriber or target");
        };
        if subscribe {
            match self.host.account_exists(target) {
                Ok(true) => {}
                Ok(false) => return error("user_not_found"),
                Err(e) => {
                    self.host.error(&format!("presence_subscribe: {e}"));
                    return error("failed");
                }
            }
        }
        let who = format!("{sub}@{from_host}");
        let _guard = self.saving.lock().unwrap_or_else(|p| p.into_inner());
        let mut list = self.read().remote.get(target).cloned().unwrap_or_default();
        let had = list.contains(&who);
        if subscribe && !had {
            list.push(who);
        } else if !subscribe && had {
            list.retain(|x| *x != who);
        } else {
            return ok();
        }
        if let Err(e) = self.store(&format!("remote/{target}"), &list) {
            self.host.error(&format!("saving remote subscribers of {target}: {e}"));
            return error("failed");
        }
        let mut st = self.write();
        if list.is_empty() {
            st.remote.remove(target);
        } else {
            st.remote.insert(target.to_owned(), list);
        }
        ok()
    }

    /// Makes the in-memory copy of one stored key what storage says (another node changed it).
    fn reread(&self, key: &str) -> Result<(), String> {
        let _guard = self.saving.lock().unwrap_or_else(|p| p.into_inner());
        let stored = self.host.kv_get(key)?;
        let list = stored.and_then(|v| parse(&self.host, key, &v)).unwrap_or_default();
        let mut st = self.write();
        if let Some(account) = key.strip_prefix("subs/") {
            st.set_subs(account, list);
        } else if let Some(target) = key.strip_prefix("remote/") {
            if list.is_empty() {
                st.remote.remove(target);
            } else {
                st.remote.insert(target.to_owned(), list);
            }
        }
        Ok(())
    }

    /// A `presence_update`: tells the local subscribers unless it repeats the last one.
    /// Remembered only for users someone here follows, which bounds the map.
    fn remote_presence(&self, who: &str, online: bool) {
        {
            let mut st = self.write();
            if !st.watchers.contains_key(who) {
                st.reported.remove(who);
                return;
            }
            if st.reported.insert(who.to_owned(), online) == Some(online) {
                return;
            }
        }
        self.notify(who, online);
    }

    /// Tells the local subscribers of `who`.
    fn notify(&self, who: &str, online: bool) {
        let text = format!("{who} is {}.", if online { "online" } else { "offline" });
        let watchers = self.read().watchers.get(who).cloned().unwrap_or_default();
        for account in watchers {
            self.host.send_to_account(&account, &text);
        }
    }
}

impl Capability for Status {
    const NAME: &'static str = "status";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn commands(&self) -> Vec<Command> {
        vec![
            Command::new("check", "<username>", "Check if a user is online or offline"),
            Command::new("sub-add", "<username>", "Subscribe to status notifications"),
            Command::new("sub-del", "<username>", "Unsubscribe from status notifications"),
            Command::new("sub-list", "", "Show your subscription list"),
            Command::new("sub-clear", "", "Clear your subscription list"),
        ]
    }

    fn command(&self, command: &str, args: &str, caller: &Caller) -> Reply {
        let me = caller.account.as_str();
        match command {
            "sub-list" => {
                let list = self.subs_of(me);
                if list.is_empty() {
                    "Subscriptions list is empty.".into()
                } else {
                    format!("Subscriptions list: {}", list.join(", ")).into()
                }
            }
            "sub-clear" => self.clear(me).into(),
            _ => {
                let Some(t) = self.parse(args) else { return Reply::Usage };
                match command {
                    "check" => self.check(&t),
                    "sub-add" => self.add(me, &t),
                    _ => self.del(me, &t),
                }
                .into()
            }
        }
    }

    fn presence(&self, event: &Presence) {
        match &event.host {
            Some(h) => self.notify(&format!("{}@{h}", event.account), event.online),
            None => {
                self.notify(&event.account, event.online);
                let mut hosts: Vec<String> = match self.read().remote.get(&event.account) {
                    Some(list) => list.iter().filter_map(|w| w.split_once('@')).map(|(_, h)| h.to_owned()).collect(),
                    None => return,
                };
                hosts.sort();
                hosts.dedup();
                let msg = json!({"type": "presence_update", "user": event.account, "online": event.online}).to_string();
                for h in hosts {
                    self.host.s2s_send(&h, &msg);
                }
            }
        }
    }

    fn s2s_types(&self) -> Vec<String> {
        ["presence_subscribe", "presence_unsubscribe", "presence_update"].map(String::from).to_vec()
    }

    fn s2s(&self, msg_type: &str, from_host: &str, json: &str) -> Option<String> {
        let Ok(v) = serde_json::from_str::<Value>(json) else { return Some(error("invalid JSON")) };
        Some(match msg_type {
            "presence_subscribe" => self.remote_sub(true, from_host, &v),
            "presence_unsubscribe" => self.remote_sub(false, from_host, &v),
            "presence_update" => match (field(&v, "user"), v.get("online").and_then(Value::as_bool)) {
                (Some(user), Some(online)) => {
                    self.remote_presence(&format!("{user}@{from_host}"), online);
                    ok()
                }
                _ => error("invalid user or online"),
            },
            _ => return None,
        })
    }

    fn wants_kv_changes(&self) -> bool {
        true
    }

    fn kv_changed(&self, key: &str) {
        if let Err(e) = self.reread(key) {
            self.host.error(&format!("re-reading {key}: {e}"));
        }
    }
}

plugin_api::export_capability!(Status::new);

#[cfg(test)]
mod tests;
