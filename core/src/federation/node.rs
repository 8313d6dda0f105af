//! [`Node`]: this server as a member of the federation. It implements the
//! core's [`Federation`] trait (the visiting side and event fan-out) and owns
//! what inbound handling and liveness share.

use super::client::{Failure, Outbound, Settings};
use super::limits::DialbackLimits;
use super::messages::{self as msg, reason};
use super::sent::SentIds;
use super::{Federation, JoinOutcome, PmOutcome, RoomEvent};
use crate::config::FederationConfig;
use crate::hub::Hub;
use async_trait::async_trait;
use serde_json::Value;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::Instant;
use tracing::{debug, info};

/// How long after a remote join its echo may arrive before the session is in the room.
pub const JOIN_GRACE: Duration = Duration::from_secs(10);

/// This server's federation state.
pub struct Node {
    pub(super) hub: Weak<Hub>,
    pub(super) out: Outbound,
    pub(super) sent: Arc<SentIds>,
    pub(super) limits: DialbackLimits,
    pub(super) cfg: FederationConfig,
    /// `room@home` → when a local account last asked to join it.
    joins: Mutex<HashMap<String, Instant>>,
}

impl Node {
    /// A node for `hub`, advertised as the hub's host name; `listen` is `[server] listen`.
    pub fn new(cfg: &FederationConfig, listen: &str, hub: &Arc<Hub>) -> Arc<Node> {
        let settings = Arc::new(Settings::new(hub.host(), cfg, listen));
        let sent = Arc::new(SentIds::new(Duration::from_secs(cfg.sent_ids_secs.max(1)), cfg.vouch_max));
        Arc::new(Node {
            hub: Arc::downgrade(hub),
            out: Outbound::new(settings, sent.clone()),
            sent,
            limits: DialbackLimits::new(cfg),
            cfg: cfg.clone(),
            joins: Mutex::default(),
        })
    }

    /// Our advertised host name.
    pub fn host(&self) -> &str {
        &self.out.settings().host
    }

    fn note_join(&self, room: &str, home: &str) {
        let mut j = self.joins.lock().unwrap_or_else(|p| p.into_inner());
        j.retain(|_, t| t.elapsed() < JOIN_GRACE);
        j.insert(format!("{room}@{home}"), Instant::now());
    }

    /// Did a local account ask to join `room@home` in the last few seconds?
    pub(super) fn joined_lately(&self, room: &str, home: &str) -> bool {
        let j = self.joins.lock().unwrap_or_else(|p| p.into_inner());
        j.get(&format!("{room}@{home}")).is_some_and(|t| t.elapsed() < JOIN_GRACE)
    }

    /// Drops expired bookkeeping (called by the liveness task).
    pub(super) fn prune(&self) {
        self.sent.prune();
        self.limits.prune();
        self.out.prune(Duration::from_secs(600));
        self.joins.lock().unwrap_or_else(|p| p.into_inner()).retain(|_, t| t.elapsed() < JOIN_GRACE);
    }

    async fn join_once(&self, room: &str, host: &str, user: &str) -> Result<Value, Failure> {
        self.note_join(room, host);
        self.out.ordered(host, msg::room_membership("room_join", room, user)).await
    }
}

/// Names of members as seen from `me`: `user` for ours, `user@origin` otherwise.
pub fn display_members(me: &str, answer: &Value) -> Option<Vec<String>> {
    let resp: msg::MembersResponse = serde_json::from_value(answer.clone()).ok()?;
    Some(
        resp.members
            .into_iter()
            .map(|m| if m.origin == me { m.username } else { format!("{}@{}", m.username, m.origin) })
            .collect(),
    )
}

/// What a home host's answer to a room event means for its member list.
fn after_room_event(hub: Weak<Hub>, room: String, host: String) -> super::client::Then {
    Box::new(move |res| {
        let Ok(answer) = res else { return };
        if msg::reason_of(answer) != Some(reason::NOT_IN_ROOM) {
            return;
        }
        // The member host says none of its accounts is in this room any more
        // (its room_leave was lost): drop them instead of keeping ghosts.
        let Some(hub) = hub.upgrade() else { return };
        let Some(r) = hub.room(&room) else { return };
        for m in r.members() {
            if m.origin.as_deref() == Some(host.as_str()) {
                info!(room = %room, user = %m.name, host = %host, "member host no longer has this user in the room; removing");
                hub.remote_leave(&room, &m.name, &host);
            }
        }
    })
}

#[async_trait]
impl Federation for Node {
    async fn send_pm(&self, sender: &str, user: &str, host: &str, text: &str) -> PmOutcome {
        if !msg::valid_host(host) || user.is_empty() {
            return PmOutcome::Failed;
        }
        match self.out.request(host, msg::remote_pm(sender, user, text)).await {
            Ok(a) if msg::is_ok(&a) => PmOutcome::Sent,
            Ok(a) if msg::reason_of(&a) == Some(reason::USER_NOT_FOUND) => PmOutcome::NoSuchUser,
            Ok(a) => {
                debug!(peer = host, answer = %a, "remote_pm refused");
                PmOutcome::Failed
            }
            Err(f) => {
                info!(peer = host, "remote_pm failed: {f}");
                PmOutcome::Failed
            }
        }
    }

    async fn join_remote(&self, room: &str, host: &str, user: &str) -> JoinOutcome {
        if !msg::valid_host(host) {
            return JoinOutcome::NoSuchRoom;
        }
        match self.join_once(room, host, user).await {
            Ok(a) if msg::is_ok(&a) => JoinOutcome::Joined,
            Ok(a) => {
                debug!(peer = host, answer = %a, "room_join refused");
                JoinOutcome::NoSuchRoom
            }
            Err(f) => {
                info!(peer = host, "room_join failed: {f}");
                JoinOutcome::NoSuchRoom
            }
        }
    }

    fn leave_remote(&self, room: &str, host: &str, user: &str) {
        self.out.post(host, msg::room_membership("room_leave", room, user), None);
    }

    async fn say_remote(&self, room: &str, host: &str, user: &str, text: &str, is_act: bool) -> bool {
        let res = self.out.ordered(host, msg::room_say(room, user, text, is_act)).await;
        match res {
            Ok(a) if msg::is_ok(&a) => true,
            Ok(a) if msg::reason_of(&a) == Some(reason::NOT_IN_ROOM) => {
                // The home host forgot us (restart, or liveness removed us): join again once.
                info!(peer = host, room, user, "home host lost our membership; joining again");
                match self.join_once(room, host, user).await {
                    Ok(j) if msg::is_ok(&j) => {
                        matches!(self.out.ordered(host, msg::room_say(room, user, text, is_act)).await, Ok(a) if msg::is_ok(&a))
                    }
                    _ => false,
                }
            }
            Ok(a) => {
                debug!(peer = host, answer = %a, "room message refused");
                false
            }
            Err(f) => {
                info!(peer = host, "room message failed: {f}");
                false
            }
        }
    }

    async fn members(&self, room: &str, host: &str) -> Option<Vec<String>> {
        match self.out.request(host, msg::members_request(room)).await {
            Ok(a) if msg::is_ok(&a) => display_members(self.host(), &a),
            Ok(a) => {
                debug!(peer = host, answer = %a, "room_members_request refused");
                None
            }
            Err(f) => {
                info!(peer = host, "room_members_request failed: {f}");
                None
            }
        }
    }

    fn room_event(&self, room: &str, hosts: Vec<Arc<str>>, event: RoomEvent) {
        let body = msg::room_event(room, &event);
        for host in hosts {
            let then = after_room_event(self.hub.clone(), room.to_owned(), host.to_string());
            self.out.post(&host, body.clone(), Some(then));
        }
    }

    async fn request(&self, host: &str, json: Value) -> Result<Value, String> {
        if !msg::valid_host(host) {
            return Err(format!("invalid host name {host:?}"));
        }
        if !json.is_object() {
            return Err("a request must be a JSON object".into());
        }
        self.out.request(host, json).await.map_err(|f| f.to_string())
    }

    fn post(&self, host: &str, json: Value) {
        if !msg::valid_host(host) || !json.is_object() {
            tracing::warn!(peer = host, "s2s_send: invalid host or not a JSON object; dropped");
            return;
        }
        self.out.post(host, json, None);
    }

    async fn serve_inbound(&self, stream: TcpStream, peer: SocketAddr) {
        super::inbound::serve(self, stream, peer).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_are_shown_relative_to_this_host() {
        let a = serde_json::json!({"status":"ok","type":"room_members_response","room":"g","members":[
            {"username":"alice","origin":"h.test"},{"username":"bob","origin":"me.test"}]});
        assert_eq!(display_members("me.test", &a).unwrap(), vec!["alice@h.test", "bob"]);
        assert!(display_members("me", &serde_json::json!({"members": 3})).is_none());
    }
}
