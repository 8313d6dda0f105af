//! Inbound server-to-server requests (protocol.md §9): read one bounded JSON line,
//! check it, verify its `from_host` by dialback where it acts on that claim
//! (every message on its own, within rate limits), act through the hub,
//! answer one JSON line.

use super::client::read_line;
use super::messages::{self as msg, reason, Head, Payload, RemotePm, RoomEventMsg, RoomRequest, StatusRequest};
use super::node::Node;
use super::{dialback, home};
use crate::hub::Hub;
use crate::remote::{qualified, RoomEvent};
use crate::{names, replies};
use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::timeout;
use tracing::{debug, info};

/// Most names one `status_request` may ask about.
const MAX_STATUS_NAMES: usize = 10_000;
/// Longest text field a request may carry (the chat limit); longer is refused before any dialback.
const MAX_TEXT: usize = crate::framing::MAX_MESSAGE;

/// The length of the longest string in `v` (nested values too, a few levels deep).
fn longest_text(v: &Value, depth: usize) -> usize {
    match v {
        Value::String(s) => s.len(),
        Value::Array(a) if depth < 4 => a.iter().map(|x| longest_text(x, depth + 1)).max().unwrap_or(0),
        Value::Object(m) if depth < 4 => m.values().map(|x| longest_text(x, depth + 1)).max().unwrap_or(0),
        Value::Array(_) | Value::Object(_) => usize::MAX,
        _ => 0,
    }
}

/// Serves one inbound connection (its first byte was `{`): one request, one answer.
/// Without a node (federation is off) the answer is a refusal.
pub async fn serve(node: Option<&Node>, mut stream: TcpStream, peer: SocketAddr) {
    let Some(node) = node else {
        let _ = stream.write_all(b"{\"status\":\"error\",\"reason\":\"federation is disabled\"}\n").await;
        return;
    };
    let limit = Duration::from_millis(node.cfg.inbound_timeout_ms.max(10));
    let max = node.out.settings().max_bytes;
    let answer = match timeout(limit, read_line(&mut stream, max)).await {
        Ok(Ok(line)) => {
            crate::metrics::federation("in", "ok");
            handle(node, &line, peer).await
        }
        Ok(Err(_)) => msg::error(&format!("invalid request: longer than {max} bytes")),
        Err(_) => msg::error("invalid request: not received in time"),
    };
    let mut out = answer.to_string().into_bytes();
    out.push(b'\n');
    let _ = timeout(limit, async {
        stream.write_all(&out).await?;
        stream.shutdown().await
    })
    .await;
}

fn bad(what: &str) -> Value {
    msg::error(&format!("invalid request: {what}"))
}

fn parse<T: DeserializeOwned>(v: &Value) -> Result<T, Value> {
    serde_json::from_value(v.clone()).map_err(|e| bad(&e.to_string()))
}

/// A request checked and ready to act on once its sender is verified.
enum Parsed {
    Pm(RemotePm),
    Room(RoomRequest),
    Event(RoomEventMsg),
    /// A type some capability may own.
    Other,
}

async fn handle(node: &Node, line: &[u8], peer: SocketAddr) -> Value {
    let Some(hub) = node.hub.upgrade() else { return msg::error("shutting down") };
    let v: Value = match serde_json::from_slice(line) {
        Ok(v) => v,
        Err(e) => return msg::error(&format!("invalid JSON: {e}")),
    };
    if !v.is_object() {
        return bad("not a JSON object");
    }
    let head: Head = match parse(&v) {
        Ok(h) => h,
        Err(e) => return e,
    };
    debug!(%peer, kind = %head.kind, from = ?head.from_host, "s2s request");
    // Answered without acting on anyone's claim: no dialback (the reference sends no msg_id for these).
    match head.kind.as_str() {
        "s2s_ping" => return msg::ok(),
        "dialback_check" => {
            return match parse::<msg::DialbackCheck>(&v) {
                Ok(_) => dialback::answer(&node.sent, &node.out, hub.bus(), &v, peer.ip()).await,
                Err(e) => e,
            }
        }
        "status_request" => return status(node, &hub, head.from_host.as_deref(), &v, peer.ip()).await,
        _ => {}
    }
    if longest_text(&v, 0) > MAX_TEXT {
        return bad("a text field is longer than 32 KiB");
    }
    let Some(from) = head.from_host.filter(|h| msg::valid_host(h)) else { return bad("missing or invalid from_host") };
    if from == node.host() {
        return bad("from_host is this server's own name");
    }
    let Some(id) = head.msg_id.filter(|i| msg::valid_msg_id(i)) else { return bad("missing or invalid msg_id") };
    let parsed = match check(&head.kind, &v) {
        Ok(p) => p,
        Err(e) => return e,
    };
    if !verify(node, &from, &id, &head.kind, &v, peer.ip()).await {
        return msg::error(reason::DIALBACK_FAILED);
    }
    match parsed {
        Parsed::Pm(pm) => remote_pm(&hub, &from, pm).await,
        Parsed::Room(r) => room(&hub, &head.kind, &from, r),
        Parsed::Event(e) => room_event(node, &hub, &from, e),
        Parsed::Other => {
            let text = String::from_utf8_lossy(line);
            match hub.caps().s2s(&head.kind, &from, &text).await {
                Some(answer) => match serde_json::from_str::<Value>(&answer) {
                    Ok(a) if a.is_object() => a,
                    _ => msg::error("capability gave an invalid answer"),
                },
                None => msg::error(reason::UNKNOWN_TYPE),
            }
        }
    }
}

fn text_of(p: &Option<Payload>, act: bool) -> Option<&str> {
    let p = p.as_ref()?;
    if act {
        p.act.as_deref()
    } else {
        p.text.as_deref()
    }
}

fn valid_text(t: &str) -> bool {
    !t.is_empty() && names::check_text(t).is_ok()
}

/// Shape checks before any dialback, so garbage costs us nothing.
fn check(kind: &str, v: &Value) -> Result<Parsed, Value> {
    match kind {
        "remote_pm" => {
            let pm: RemotePm = parse(v)?;
            if !msg::valid_user(&pm.sender) || !msg::valid_user(&pm.recipient) {
                return Err(bad("invalid sender or recipient"));
            }
            if !valid_text(&pm.message) {
                return Err(bad("empty message or control characters"));
            }
            Ok(Parsed::Pm(pm))
        }
        "room_join" | "room_leave" | "room_message" | "room_act" | "room_members_request" => {
            let r: RoomRequest = parse(v)?;
            if names::check_room_name(&r.room).is_err() {
                return Err(bad("invalid room"));
            }
            if kind != "room_members_request" && !msg::valid_user(&r.sender) {
                return Err(bad("invalid sender"));
            }
            if kind == "room_message" || kind == "room_act" {
                let Some(t) = text_of(&r.payload, kind == "room_act") else { return Err(bad("missing payload text")) };
                if !valid_text(t) {
                    return Err(bad("empty text or control characters"));
                }
                if kind == "room_act" && (t == replies::JOINED_TEXT || t == replies::LEFT_TEXT) {
                    return Err(bad("this action is not allowed"));
                }
            }
            Ok(Parsed::Room(r))
        }
        "room_event" => {
            let e: RoomEventMsg = parse(v)?;
            if names::check_room_name(&e.room).is_err() || !msg::valid_user(&e.sender) {
                return Err(bad("invalid room or sender"));
            }
            if e.sender_origin.as_deref().is_some_and(|h| !msg::valid_host(h)) {
                return Err(bad("invalid sender_origin"));
            }
            match e.event.as_str() {
                "joined" | "left" => {}
                "message" | "act" => {
                    if !text_of(&e.payload, e.event == "act").is_some_and(valid_text) {
                        return Err(bad("missing text, or control characters"));
                    }
                }
                _ => return Err(bad("unknown event")),
            }
            Ok(Parsed::Event(e))
        }
        _ => Ok(Parsed::Other),
    }
}

/// Asks `from` whether it sent this very message, within the dialback limits.
async fn verify(node: &Node, from: &str, id: &str, kind: &str, v: &Value, ip: IpAddr) -> bool {
    let limits = &node.limits;
    if limits.failed_lately(from, ip) {
        debug!(claimed = from, %ip, kind, "refused at once: a dialback for this host from this address failed lately");
        return false;
    }
    if !limits.take(from, ip) {
        info!(claimed = from, %ip, kind, "dialback rate limit reached; request refused");
        return false;
    }
    let limit = node.out.settings().dialback;
    let Ok(_slot) = limits.slot(limit).await else {
        info!(claimed = from, %ip, kind, "too many dialbacks in flight; request refused");
        return false;
    };
    let check = dialback::check_request(node.host(), id, kind, v);
    let res = timeout(limit, node.out.request_raw(from, &check, limit)).await;
    let ok = match res {
        Ok(Ok(a)) if a.get("result").and_then(Value::as_str) == Some("ok") => true,
        Ok(Ok(a)) => {
            info!(claimed = from, %ip, kind, answer = %a, "dialback refused: request not sent by its from_host");
            false
        }
        Ok(Err(f)) => {
            info!(claimed = from, %ip, kind, "dialback failed: {f}");
            false
        }
        Err(_) => {
            info!(claimed = from, %ip, kind, "dialback timed out");
            false
        }
    };
    crate::metrics::count(&crate::metrics::M.dialbacks, "result", if ok { "ok" } else { "failed" });
    if ok {
        limits.refund(from, ip);
    } else {
        limits.note_failure(from, ip);
    }
    ok
}

/// `status_request`: only for a plausible peer (its `from_host` has the caller's
/// address) within the rate limit, and only about accounts that exist here.
async fn status(node: &Node, hub: &Hub, from: Option<&str>, v: &Value, ip: IpAddr) -> Value {
    let r: StatusRequest = match parse(v) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let Some(from) = from.filter(|h| msg::valid_host(h) && *h != node.host()) else {
        return bad("missing or invalid from_host");
    };
    if !node.limits.take_ip(ip) || !node.out.plausible(from, ip).await {
        info!(claimed = from, %ip, "status_request refused: caller is not that host, or asks too often");
        return msg::error("not a known peer address");
    }
    let users = r.usernames.unwrap_or_else(|| r.username.into_iter().collect());
    if users.len() > MAX_STATUS_NAMES {
        return bad("too many usernames");
    }
    let (online, offline): (Vec<String>, Vec<String>) = users.into_iter().partition(|u| hub.is_online(u));
    let existing = match hub
        .store()
        .run(move |s| Ok(offline.into_iter().filter(|u| s.account_exists(u).unwrap_or(false)).collect::<Vec<_>>()))
        .await
    {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!("status_request: storage failed: {e}");
            return msg::error(reason::FAILED);
        }
    };
    let mut map: Map<String, Value> = online.into_iter().map(|u| (u, true.into())).collect();
    map.extend(existing.into_iter().map(|u| (u, false.into())));
    json!({"status": "ok", "online_map": map})
}

async fn remote_pm(hub: &Arc<Hub>, from: &str, pm: RemotePm) -> Value {
    let exists = if hub.is_online(&pm.recipient) {
        true
    } else {
        let u = pm.recipient.clone();
        match hub.store().run(move |s| s.account_exists(&u)).await {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!("remote_pm: storage failed: {e}");
                return msg::error(reason::FAILED);
            }
        }
    };
    if !exists {
        return msg::error(reason::USER_NOT_FOUND);
    }
    if hub.deliver_pm(&qualified(&pm.sender, Some(from)), &pm.recipient, &pm.message) {
        msg::ok()
    } else {
        msg::error(reason::FAILED)
    }
}

/// The home-host side of `room_*` requests from a member host.
fn room(hub: &Hub, kind: &str, from: &str, r: RoomRequest) -> Value {
    let exists = hub.room(&r.room).is_some();
    match kind {
        "room_join" => match home::remote_join(hub, &r.room, &r.sender, from) {
            Ok(()) => msg::ok(),
            Err(why) => msg::error(why),
        },
        "room_leave" if home::remote_leave(hub, &r.room, &r.sender, from) => msg::ok(),
        "room_leave" => msg::error(reason::NOT_IN_ROOM),
        "room_members_request" => match hub.room(&r.room) {
            Some(room) => {
                let members: Vec<Value> = room
                    .members()
                    .iter()
                    .map(|m| json!({"username": &*m.name, "origin": m.origin.as_deref().unwrap_or(hub.host())}))
                    .collect();
                json!({"status": "ok", "type": "room_members_response", "room": r.room, "members": members})
            }
            None => msg::error(reason::NO_SUCH_ROOM),
        },
        _ if !exists => msg::error(reason::NO_SUCH_ROOM),
        _ => {
            let is_act = kind == "room_act";
            let text = text_of(&r.payload, is_act).unwrap_or_default();
            if home::remote_say(hub, &r.room, &r.sender, from, text, is_act) {
                msg::ok()
            } else {
                msg::error(reason::NOT_IN_ROOM)
            }
        }
    }
}

/// The visiting side: an event of `room@from` shown to our sessions in it; held
/// while a join of that room is in flight (see [`super::joins`]).
fn room_event(node: &Node, hub: &Hub, from: &str, e: RoomEventMsg) -> Value {
    let origin = e.sender_origin.clone().unwrap_or_else(|| from.to_owned());
    let text = text_of(&e.payload, e.event == "act").unwrap_or_default().to_owned();
    let ev = RoomEvent { event: e.event, sender: e.sender, sender_origin: origin, text };
    let Some(ev) = node.joins.hold(&e.room, from, ev) else { return msg::ok() };
    let here = hub.find_remote_room(&e.room, from).is_some_and(|r| r.has_members());
    // In a cluster the home host may reach any node: the others show it to their sessions.
    let elsewhere = hub.bus().remote_elsewhere(&e.room, from);
    if !here && !elsewhere {
        // Tells the home host its member list is stale for us.
        return msg::error(reason::NOT_IN_ROOM);
    }
    if elsewhere {
        hub.bus().remote_event(&e.room, from, &ev);
    }
    if here {
        home::remote_room_event(hub, &e.room, from, &ev);
    }
    msg::ok()
}

#[cfg(test)]
mod prop;
