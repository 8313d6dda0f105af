//! Dialback (protocol.md §9): proving that a request really came from its `from_host`.
//!
//! Outbound: [`super::sent::SentIds`] remembers what we sent and to whom; a
//! `dialback_check` is answered `ok` only by the host we sent that message to,
//! from one of its addresses, about exactly what we sent. Inbound: every
//! request is checked on its own with one `dialback_check` to its claimed host.

use super::client::Outbound;
use super::sent::{self, SentIds};
use crate::bus::Bus;
use serde_json::{Map, Value};
use std::net::IpAddr;
use tracing::debug;

/// Most bytes of fields a check we send echoes; the digest covers the rest.
pub const MAX_ECHO: usize = 4096;

/// The answer to a `dialback_check` that came from `peer`. An id this node did
/// not keep is looked up in the cluster's shared store, then asked of the other
/// nodes (`others`), which keep records the store could not take.
pub async fn answer(sent: &SentIds, out: &Outbound, others: &dyn Bus, check: &Value, peer: IpAddr) -> Value {
    let id = check.get("msg_id").cloned().unwrap_or(Value::Null);
    let verdict = match sent.judge(check) {
        Err(sent::UNKNOWN) => match shared(sent, out, check, peer).await {
            Err(sent::UNKNOWN) => elsewhere(out, others, check, peer).await,
            v => v,
        },
        Err(why) => Err(why),
        Ok(host) if !out.plausible(&host, peer).await => Err("check does not come from that host's address"),
        Ok(_) if !id.as_str().is_some_and(|i| sent.vouch(i)) => Err("msg_id already vouched for too often"),
        Ok(_) => Ok(()),
    };
    let result = match verdict {
        Ok(()) => "ok",
        Err(why) => {
            debug!(%peer, msg_id = %id, "dialback check refused: {why}");
            "fail"
        }
    };
    serde_json::json!({"type": "dialback_result", "msg_id": id, "result": result})
}

/// Judges and counts a check against the cluster's shared store.
async fn shared(sent: &SentIds, out: &Outbound, check: &Value, peer: IpAddr) -> Result<(), sent::Refusal> {
    let host = sent.judge_shared(check).await?;
    if !out.plausible(&host, peer).await {
        return Err("check does not come from that host's address");
    }
    if !sent.vouch_shared(check).await {
        return Err("msg_id already vouched for too often");
    }
    Ok(())
}

/// Asks the other nodes of a cluster about a check for an id this node did not send.
async fn elsewhere(out: &Outbound, others: &dyn Bus, check: &Value, peer: IpAddr) -> Result<(), sent::Refusal> {
    let Some(ask) = others.vouch_elsewhere(check.clone()) else { return Err(sent::UNKNOWN) };
    let host = check.get("from_host").and_then(Value::as_str).ok_or("no from_host")?;
    if !out.plausible(host, peer).await {
        return Err("check does not come from that host's address");
    }
    match ask.await {
        Some(true) => Ok(()),
        Some(false) => Err("refused by the node that sent it"),
        None => Err(sent::UNKNOWN),
    }
}

/// The `dialback_check` we send about `request` of type `kind`: the fields of
/// the request (as the reference does) while they fit in [`MAX_ECHO`] bytes,
/// and a `digest` of all of them.
pub fn check_request(our_host: &str, msg_id: &str, kind: &str, request: &Value) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), "dialback_check".into());
    m.insert("msg_id".into(), msg_id.into());
    m.insert("msg_type".into(), kind.into());
    m.insert("from_host".into(), our_host.into());
    let mut room = MAX_ECHO;
    for (k, v) in sent::significant(request) {
        let size = k.len() + v.to_string().len();
        if size <= room {
            room -= size;
            m.insert(k.into(), v.clone());
        }
    }
    m.insert("digest".into(), sent::digest(request).into());
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_random() {
        assert_ne!(sent::new_msg_id(), sent::new_msg_id());
        assert_eq!(sent::new_msg_id().len(), 32);
    }

    #[test]
    fn checks_echo_little_and_digest_all() {
        let long = "x".repeat(20_000);
        let req = serde_json::json!({"type":"remote_pm","msg_id":"1","from_host":"v","sender":"a","recipient":"b","message":long});
        let c = check_request("r", "1", "remote_pm", &req);
        assert_eq!(c["sender"], "a");
        assert!(c.get("message").is_none());
        assert!(c.to_string().len() < MAX_ECHO + 512);
        let s = SentIds::new(std::time::Duration::from_secs(9), 3);
        s.record_here("1", "r", &req);
        assert_eq!(s.judge(&c), Ok("r".into()));
    }
}
