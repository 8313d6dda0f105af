//! History of rooms on other hosts: `history_request` asks the home host, which
//! answers with its lines, senders qualified with its own name.

use crate::db::Line;
use crate::{History, Query};
use plugin_api::serde_json::{json, Value};
use plugin_api::Host;

/// The server-to-server message type.
pub const REQUEST: &str = "history_request";

/// Asks `home` for lines of its room `name`; `None` if it cannot or will not answer.
pub fn ask(host: &Host, name: &str, home: &str, q: &Query) -> Option<Vec<Line>> {
    let (query, arg) = match q {
        Query::Last(n) => ("last", json!(n)),
        Query::Search(t) => ("search", json!(t)),
        Query::Since(ms) => ("since", json!(ms)),
    };
    let req = json!({"type": REQUEST, "room": name, "query": query, "arg": arg});
    let answer = match host.s2s_request(home, &req.to_string()) {
        Ok(a) => a,
        Err(e) => {
            host.debug(&format!("history_request to {home} failed: {e}"));
            return None;
        }
    };
    let v: Value = plugin_api::serde_json::from_str(&answer).ok()?;
    if v["status"] != "ok" {
        return None;
    }
    plugin_api::serde_json::from_value(v["lines"].clone()).ok()
}

/// The answer to a peer's `history_request` (JSON text).
pub fn answer(h: &History, json: &str) -> String {
    let bad = || json!({"status": "error", "reason": "bad_request"}).to_string();
    let Ok(v) = plugin_api::serde_json::from_str::<Value>(json) else { return bad() };
    let Some(room) = v["room"].as_str() else { return bad() };
    let q = match (v["query"].as_str(), &v["arg"]) {
        (Some("last"), a) => a.as_u64().map(|n| Query::Last(n as usize)),
        (Some("search"), a) => {
            a.as_str().filter(|t| t.chars().count() <= crate::MAX_SEARCH_TEXT).map(|t| Query::Search(t.into()))
        }
        (Some("since"), a) => a.as_u64().map(Query::Since),
        _ => None,
    };
    let Some(q) = q else { return bad() };
    let me = h.host.host_name();
    match h.local(room, &q) {
        Ok(mut lines) => {
            for l in &mut lines {
                if !l.from.contains('@') {
                    l.from = format!("{}@{me}", l.from);
                }
            }
            json!({"status": "ok", "lines": lines}).to_string()
        }
        Err(_) => json!({"status": "error", "reason": "failed"}).to_string(),
    }
}
