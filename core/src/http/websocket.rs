//! `GET /ws`: checks the handshake and the `Origin`, answers `101`, and after the
//! upgrade runs an ordinary chat session over the WebSocket framing
//! (`transport::websocket`).

use super::web::Web;
use crate::config::WebConfig;
use crate::http_reply::{bytes_body, plain, refuse, Body};
use crate::transport::websocket as ws;
use crate::transport::Halves;
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderValue, CONNECTION, HOST, ORIGIN, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY};
use hyper::header::{SEC_WEBSOCKET_VERSION, UPGRADE};
use hyper::upgrade::OnUpgrade;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tracing::{debug, info};

/// An accepted upgrade, waiting for hyper to finish the `101` answer.
pub(super) type Pending = Arc<Mutex<Option<OnUpgrade>>>;

fn header(h: &HeaderMap, name: impl hyper::header::AsHeaderName) -> Option<&str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn has_token(h: &HeaderMap, name: hyper::header::HeaderName, token: &str) -> bool {
    h.get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// Is a browser page from `origin` allowed to open a session? No `Origin` (a
/// non-browser client) is allowed; with an empty allow-list the origin's
/// `host[:port]` must be the request's `Host`.
pub fn origin_allowed(cfg: &WebConfig, origin: Option<&str>, host: Option<&str>) -> bool {
    let Some(origin) = origin else { return true };
    if !cfg.allowed_origins.is_empty() {
        return cfg.allowed_origins.iter().any(|o| o == "*" || o.eq_ignore_ascii_case(origin));
    }
    let authority = origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://"));
    matches!((authority, host), (Some(a), Some(h)) if !a.is_empty() && a.eq_ignore_ascii_case(h))
}

/// Answers the handshake request: `101` and a pending session, or a one-line refusal.
pub(super) fn accept(web: &Web, mut req: Request<Incoming>, pending: &Pending) -> Response<Body> {
    let h = req.headers();
    let handshake = req.method() == Method::GET
        && has_token(h, UPGRADE, "websocket")
        && has_token(h, CONNECTION, "upgrade")
        && h.contains_key(SEC_WEBSOCKET_KEY);
    if !handshake {
        return refuse(StatusCode::BAD_REQUEST, "Bad Request: expected a WebSocket handshake");
    }
    if header(h, SEC_WEBSOCKET_VERSION) != Some("13") {
        let mut r = refuse(StatusCode::UPGRADE_REQUIRED, "Upgrade Required: WebSocket version 13 only");
        r.headers_mut().insert(SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));
        return r;
    }
    let origin = header(h, ORIGIN);
    if !origin_allowed(&web.cfg, origin, header(h, HOST)) {
        info!(origin = origin.unwrap_or(""), "WebSocket refused: origin not allowed");
        let shown: String = origin.unwrap_or("").chars().filter(|c| !c.is_control()).take(200).collect();
        return refuse(StatusCode::FORBIDDEN, &format!("Forbidden: origin {shown} is not allowed"));
    }
    let key = h.get(SEC_WEBSOCKET_KEY).map(|k| derive_accept_key(k.as_bytes())).unwrap_or_default();
    let Ok(accept) = HeaderValue::from_str(&key) else {
        return plain(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
    };
    *pending.lock().unwrap_or_else(|p| p.into_inner()) = Some(hyper::upgrade::on(&mut req));
    let mut r = Response::new(bytes_body(""));
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    r.headers_mut().insert(UPGRADE, HeaderValue::from_static("websocket"));
    r.headers_mut().insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    r.headers_mut().insert(SEC_WEBSOCKET_ACCEPT, accept);
    r
}

/// The chat session's halves once hyper handed over the upgraded connection.
pub(super) async fn halves(web: &Web, on_upgrade: OnUpgrade, peer: SocketAddr) -> Option<Halves> {
    let upgraded = match on_upgrade.await {
        Ok(u) => u,
        Err(e) => {
            debug!(%peer, "WebSocket upgrade failed: {e}");
            return None;
        }
    };
    let config = ws::config(web.cfg.max_message_bytes);
    Some(ws::halves(TokioIo::new(upgraded), config).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        let mut cfg = WebConfig::default();
        assert!(origin_allowed(&cfg, None, Some("x:1")));
        assert!(origin_allowed(&cfg, Some("http://chat.example:42439"), Some("chat.example:42439")));
        assert!(origin_allowed(&cfg, Some("https://Chat.Example"), Some("chat.example")));
        assert!(!origin_allowed(&cfg, Some("http://evil.example"), Some("chat.example")));
        assert!(!origin_allowed(&cfg, Some("http://chat.example:1"), Some("chat.example:2")));
        assert!(!origin_allowed(&cfg, Some("null"), Some("chat.example")));
        assert!(!origin_allowed(&cfg, Some("http://chat.example"), None));
        cfg.allowed_origins = vec!["https://app.example".into()];
        assert!(origin_allowed(&cfg, Some("https://app.example"), Some("chat.example")));
        assert!(!origin_allowed(&cfg, Some("http://chat.example"), Some("chat.example")));
        cfg.allowed_origins = vec!["*".into()];
        assert!(origin_allowed(&cfg, Some("http://anything"), Some("chat.example")));
    }
}
