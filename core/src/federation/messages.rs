//! The JSON of protocol.md §9: inbound request shapes, outbound builders, answers.

use serde::Deserialize;
use serde_json::{json, Map, Value};

/// Answer reasons the reference uses (and we add `no_such_room`).
pub mod reason {
    /// `remote_pm` to an unknown account.
    pub const USER_NOT_FOUND: &str = "user_not_found";
    /// `remote_pm` to an account with no session.
    pub const FAILED: &str = "failed";
    /// `room_leave` / `room_message` / `room_act` from a non-member.
    pub const NOT_IN_ROOM: &str = "not_in_room";
    /// `room_*` for a subserver this host does not have.
    pub const NO_SUCH_ROOM: &str = "no_such_room";
    /// `room_join` into a subserver holding `max_remote_members_per_room` members of other hosts.
    pub const ROOM_FULL: &str = "room_full";
    /// The claimed `from_host` did not confirm the message.
    pub const DIALBACK_FAILED: &str = "Dialback failed";
    /// A type nobody here handles.
    pub const UNKNOWN_TYPE: &str = "unknown_type";
}

/// `{"status":"ok"}`.
pub fn ok() -> Value {
    json!({"status": "ok"})
}

/// `{"status":"error","reason":REASON}`.
pub fn error(reason: &str) -> Value {
    json!({"status": "error", "reason": reason})
}

/// True for `{"status":"ok",...}`.
pub fn is_ok(v: &Value) -> bool {
    v.get("status").and_then(Value::as_str) == Some("ok")
}

/// The `reason` of an error answer, if any.
pub fn reason_of(v: &Value) -> Option<&str> {
    v.get("reason").and_then(Value::as_str)
}

/// Fields every request carries.
#[derive(Debug, Deserialize)]
pub struct Head {
    /// The message type.
    #[serde(rename = "type")]
    pub kind: String,
    /// The sender's advertised host name.
    #[serde(default)]
    pub from_host: Option<String>,
    /// Unique per message; what dialback checks.
    #[serde(default)]
    pub msg_id: Option<String>,
}

/// `remote_pm`.
#[derive(Debug, Deserialize)]
pub struct RemotePm {
    /// Account on the sending host.
    pub sender: String,
    /// Account on this host.
    pub recipient: String,
    /// The text.
    pub message: String,
}

/// Chat text or action carried by `room_message`, `room_act` and `room_event`.
#[derive(Debug, Default, Deserialize)]
pub struct Payload {
    /// Chat text.
    #[serde(default)]
    pub text: Option<String>,
    /// Action text.
    #[serde(default)]
    pub act: Option<String>,
}

/// `room_join`, `room_leave`, `room_message`, `room_act`, `room_members_request`.
#[derive(Debug, Deserialize)]
pub struct RoomRequest {
    /// Subserver name on its home host.
    pub room: String,
    /// Account on the sending host (not in `room_members_request`).
    #[serde(default)]
    pub sender: String,
    /// Text of `room_message` / `room_act`.
    #[serde(default)]
    pub payload: Option<Payload>,
}

/// `room_event`.
#[derive(Debug, Deserialize)]
pub struct RoomEventMsg {
    /// Subserver name on its home host (the sender).
    pub room: String,
    /// `joined`, `left`, `message` or `act`.
    pub event: String,
    /// Account name on its home host.
    pub sender: String,
    /// The sender's home host; the reference falls back to `from_host`.
    #[serde(default)]
    pub sender_origin: Option<String>,
    /// Text of `message` / `act`.
    #[serde(default)]
    pub payload: Option<Payload>,
}

/// `status_request`; the reference also accepts a single `username`.
#[derive(Debug, Deserialize)]
pub struct StatusRequest {
    /// Accounts asked about.
    #[serde(default)]
    pub usernames: Option<Vec<String>>,
    /// One account asked about (older senders).
    #[serde(default)]
    pub username: Option<String>,
}

/// `dialback_check`.
#[derive(Debug, Deserialize)]
pub struct DialbackCheck {
    /// The id of the message being checked.
    pub msg_id: String,
    /// Its type, when the checker says.
    #[serde(default)]
    pub msg_type: Option<String>,
}

/// One entry of `room_members_response`.
#[derive(Debug, Deserialize)]
pub struct MemberEntry {
    /// Account name.
    pub username: String,
    /// Its home host.
    pub origin: String,
}

/// `room_members_response`.
#[derive(Debug, Deserialize)]
pub struct MembersResponse {
    /// Members in join order.
    #[serde(default)]
    pub members: Vec<MemberEntry>,
}

fn object(pairs: &[(&str, Value)]) -> Value {
    let mut m = Map::new();
    for (k, v) in pairs {
        m.insert((*k).to_owned(), v.clone());
    }
    Value::Object(m)
}

/// `remote_pm` (without `from_host` / `msg_id`, which are stamped on sending).
pub fn remote_pm(sender: &str, recipient: &str, message: &str) -> Value {
    object(&[
        ("type", "remote_pm".into()),
        ("sender", sender.into()),
        ("recipient", recipient.into()),
        ("message", message.into()),
    ])
}

/// `room_join` / `room_leave`.
pub fn room_membership(kind: &str, room: &str, sender: &str) -> Value {
    object(&[("type", kind.into()), ("room", room.into()), ("sender", sender.into())])
}

/// `room_message` / `room_act`.
pub fn room_say(room: &str, sender: &str, text: &str, is_act: bool) -> Value {
    let (kind, payload) =
        if is_act { ("room_act", json!({ "act": text })) } else { ("room_message", json!({ "text": text })) };
    object(&[("type", kind.into()), ("room", room.into()), ("sender", sender.into()), ("payload", payload)])
}

/// `room_members_request`.
pub fn members_request(room: &str) -> Value {
    object(&[("type", "room_members_request".into()), ("room", room.into())])
}

/// `room_event`.
pub fn room_event(room: &str, ev: &crate::remote::RoomEvent) -> Value {
    let payload = match ev.event.as_str() {
        "message" => json!({ "text": ev.text }),
        "act" => json!({ "act": ev.text }),
        _ => json!({}),
    };
    object(&[
        ("type", "room_event".into()),
        ("room", room.into()),
        ("event", ev.event.as_str().into()),
        ("sender", ev.sender.as_str().into()),
        ("sender_origin", ev.sender_origin.as_str().into()),
        ("payload", payload),
    ])
}

/// `s2s_ping`.
pub fn ping() -> Value {
    object(&[("type", "s2s_ping".into())])
}

/// `status_request`.
pub fn status_request(users: &[String]) -> Value {
    object(&[("type", "status_request".into()), ("usernames", users.into())])
}

/// A host name as it may appear in `from_host` or `user@host`: letters,
/// digits, `.`, `-`, `_`, and `:` for IPv6 literals.
pub fn valid_host(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 253
        && !h.starts_with('-')
        && h.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':'))
}

/// An account name from another host: the local naming rules, and no `@`.
pub fn valid_user(u: &str) -> bool {
    !u.contains('@') && crate::names::normalise_account(u).is_ok_and(|n| n == u)
}

/// A message id: short printable ASCII (the reference sends 64 hex digits).
pub fn valid_msg_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders_match_the_wire_table() {
        let ev = crate::remote::RoomEvent::said("bob", "b.example", "waves", true);
        let v = room_event("lobby", &ev);
        assert_eq!(v["type"], "room_event");
        assert_eq!(v["payload"]["act"], "waves");
        assert_eq!(v["sender_origin"], "b.example");
        let v = room_say("lobby", "bob", "hi", false);
        assert_eq!(v["type"], "room_message");
        assert_eq!(v["payload"]["text"], "hi");
        assert_eq!(room_event("x", &crate::remote::RoomEvent::joined("a", "h"))["payload"], json!({}));
    }

    #[test]
    fn validation() {
        assert!(valid_host("127.0.0.2"));
        assert!(valid_host("chat.example.org"));
        assert!(!valid_host("a b"));
        assert!(!valid_host(""));
        assert!(!valid_host("x/y"));
        assert!(valid_user("bob"));
        assert!(!valid_user("bob@x"));
        assert!(!valid_user("a\nb"));
        assert!(!valid_user(""));
        assert!(valid_msg_id("abc123"));
        assert!(!valid_msg_id("a b"));
    }

    #[test]
    fn inbound_shapes() {
        let r: RoomEventMsg =
            serde_json::from_str(r#"{"room":"g","event":"message","sender":"a","payload":{"text":"hi"}}"#).unwrap();
        assert_eq!(r.payload.unwrap().text.as_deref(), Some("hi"));
        let r: RoomRequest = serde_json::from_str(r#"{"room":"g","payload":null}"#).unwrap();
        assert!(r.payload.is_none());
        assert!(serde_json::from_str::<RemotePm>(r#"{"sender":1,"recipient":"b","message":"m"}"#).is_err());
    }
}
