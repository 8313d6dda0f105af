//! [`Node`]: this server as a member of the federation. It implements the
//! core's [`Federation`] trait (the visiting side and event fan-out) and owns
//! what inbound handling and liveness share.

use super::client::{Failure, Outbound, Settings};
use super::joins::PendingJoins;
use super::limits::DialbackLimits;
use super::messages::{self as msg, reason};
use super::sent::SentIds;
use crate::config::FederationConfig;
use crate::hub::Hub;
use crate::remote::{qualified, Federation, JoinOutcome, OnJoined, PmOutcome, RoomEvent};
use async_trait::async_trait;
use serde_json::Value;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tracing::{debug, info};

/// This server's federation state.
pub struct Node {
    pub(super) hub: Weak<Hub>,
    pub(super) out: Outbound,
    pub(super) sent: Arc<SentIds>,
    pub(super) limits: DialbackLimits,
    pub(super) cfg: FederationConfig,
    /// Remote joins waiting for the home host's answer.
    pub(super) joins: PendingJoins,
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
            joins: PendingJoins::default(),
        })
    }

    /// Our advertised host name.
    pub fn host(&self) -> &str {
        &self.out.settings().host
    }

    /// Drops expired bookkeeping (called by the liveness task).
    pub(super) fn prune(&self) {
        self.sent.prune();
        self.limits.prune();
        self.out.prune(Duration::from_secs(600));
    }

    async fn join_once(&self, room: &str, host: &str, user: &str) -> Result<Value, Failure> {
        self.out.ordered(host, msg::room_membership("room_join", room, user)).await
    }
}

/// An `ok` answer, or why not: `Err(Some(answer))` when the peer refused,
/// `Err(None)` when it could not be asked. Refusals and failures are logged.
fn accepted(host: &str, what: &str, res: Result<Value, Failure>) -> Result<Value, Option<Value>> {
    match res {
        Ok(a) if msg::is_ok(&a) => Ok(a),
        Ok(a) => {
            debug!(peer = host, answer = %a, "{what} refused");
            Err(Some(a))
        }
        Err(f) => {
            info!(peer = host, "{what} failed: {f}");
            Err(None)
        }
    }
}

/// Names of members as seen from `me`: `user` for ours, `user@origin` otherwise.
pub fn display_members(me: &str, answer: &Value) -> Option<Vec<String>> {
    let resp: msg::MembersResponse = serde_json::from_value(answer.clone()).ok()?;
    Some(
        resp.members
            .into_iter()
            .map(|m| qualified(&m.username, Some(m.origin.as_str()).filter(|o| *o != me)))
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
                super::home::remote_leave(&hub, &room, &m.name, &host);
            }
        }
    })
}

#[async_trait]
impl Federation for Node {
    fn vouch_here(&self, check: &Value) -> Option<bool> {
        self.sent.vouch_for_node(check)
    }

    async fn send_pm(&self, sender: &str, user: &str, host: &str, text: &str) -> PmOutcome {
        if !msg::valid_host(host) || user.is_empty() {
            return PmOutcome::Failed;
        }
        match accepted(host, "remote_pm", self.out.request(host, msg::remote_pm(sender, user, text)).await) {
            Ok(_) => PmOutcome::Sent,
            Err(Some(a)) if msg::reason_of(&a) == Some(reason::USER_NOT_FOUND) => PmOutcome::NoSuchUser,
            Err(_) => PmOutcome::Failed,
        }
    }

    async fn join_remote(&self, room: &str, host: &str, user: &str, on_joined: OnJoined<'_>) -> JoinOutcome {
        if !msg::valid_host(host) {
            return JoinOutcome::NoSuchRoom;
        }
        let key = qualified(room, Some(host));
        // Before the join goes out: its home host may answer with events through another node.
        let hub = self.hub.upgrade();
        if let Some(hub) = &hub {
            hub.bus().remote_presence(room, host, user, true);
        }
        self.joins.start(&key);
        let outcome = match accepted(host, "room_join", self.join_once(room, host, user).await) {
            Ok(_) => {
                on_joined();
                JoinOutcome::Joined
            }
            Err(_) => {
                if let Some(hub) = &hub {
                    if !hub.find_remote_room(room, host).is_some_and(|r| r.has_member(user, None)) {
                        hub.bus().remote_presence(room, host, user, false);
                    }
                }
                JoinOutcome::NoSuchRoom
            }
        };
        // Events that arrived meanwhile; shown to whoever is in the room now.
        self.joins.finish(&key, |ev| {
            if let Some(hub) = &hub {
                super::home::remote_room_event(hub, room, host, ev);
            }
        });
        outcome
    }

    fn leave_remote(&self, room: &str, host: &str, user: &str) {
        if let Some(hub) = self.hub.upgrade() {
            hub.bus().remote_presence(room, host, user, false);
        }
        self.out.post(host, msg::room_membership("room_leave", room, user), None);
    }

    async fn say_remote(&self, room: &str, host: &str, user: &str, text: &str, is_act: bool) -> bool {
        let res = self.out.ordered(host, msg::room_say(room, user, text, is_act)).await;
        match accepted(host, "room message", res) {
            Ok(_) => true,
            Err(Some(a)) if msg::reason_of(&a) == Some(reason::NOT_IN_ROOM) => {
                // The home host forgot us (restart, or liveness removed us): join again once.
                info!(peer = host, room, user, "home host lost our membership; joining again");
                match self.join_once(room, host, user).await {
                    Ok(j) if msg::is_ok(&j) => {
                        matches!(self.out.ordered(host, msg::room_say(room, user, text, is_act)).await, Ok(a) if msg::is_ok(&a))
                    }
                    _ => false,
                }
            }
            Err(_) => false,
        }
    }

    async fn members(&self, room: &str, host: &str) -> Option<Vec<String>> {
        let res = self.out.request(host, msg::members_request(room)).await;
        accepted(host, "room_members_request", res).ok().and_then(|a| display_members(self.host(), &a))
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
