//! HTTP on the main port and the TLS port (WIRE §7): the core owns it. It serves
//! the web app (`GET /` and its assets), the WebSocket endpoint (`GET /ws`) and
//! then whatever paths the loaded capabilities declared (`/upload`, `/file/…`).
//! hyper parses HTTP/1.1; nothing here parses HTTP by hand.

mod static_files;
mod websocket;

use crate::config::WebConfig;
use crate::session::Shared;
use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONNECTION, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tracing::debug;

/// Request headers must arrive within this.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// No plain HTTP connection lives longer than this (a WebSocket session is not bound by it).
const CONNECTION_LIMIT: Duration = Duration::from_secs(600);

/// A response body: bytes in memory or a file streamed from disk.
pub type Body = BoxBody<Bytes, std::io::Error>;

/// What the HTTP side needs: the session context (for WebSocket sessions) and `[web]`.
pub struct Web {
    /// What every chat session needs.
    pub shared: Shared,
    /// `[web]`.
    pub cfg: WebConfig,
}

/// A body from bytes in memory.
pub fn bytes_body(b: impl Into<Bytes>) -> Body {
    Full::new(b.into()).map_err(|never| match never {}).boxed()
}

/// A short plain-text answer (one line).
pub fn plain(status: StatusCode, text: &str) -> Response<Body> {
    let mut r = Response::new(bytes_body(format!("{text}\n")));
    *r.status_mut() = status;
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    r.headers_mut().insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    r
}

/// A refusal after which the connection closes (a request body may be unread).
pub fn refuse(status: StatusCode, text: &str) -> Response<Body> {
    let mut r = plain(status, text);
    r.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
    r
}

/// Serves one HTTP connection (keep-alive included); a WebSocket upgrade turns it
/// into a chat session that runs in this same task, so it keeps its connection slot.
pub async fn serve<I>(web: Arc<Web>, io: I, peer: SocketAddr)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let upgrade: websocket::Pending = Arc::new(Mutex::new(None));
    let svc = {
        let (web, upgrade) = (web.clone(), upgrade.clone());
        hyper::service::service_fn(move |req| {
            let (web, upgrade) = (web.clone(), upgrade.clone());
            async move { Ok::<_, Infallible>(route(&web, req, peer, &upgrade).await) }
        })
    };
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .max_buf_size(64 * 1024)
        .serve_connection(TokioIo::new(io), svc)
        .with_upgrades();
    match tokio::time::timeout(CONNECTION_LIMIT, conn).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => debug!(%peer, "HTTP connection ended: {e}"),
        Err(_) => debug!(%peer, "HTTP connection closed: open too long"),
    }
    let taken = upgrade.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let Some(on_upgrade) = taken {
        websocket::run_session(&web, on_upgrade, peer).await;
    }
}

async fn route(web: &Web, req: Request<Incoming>, peer: SocketAddr, upgrade: &websocket::Pending) -> Response<Body> {
    let path = req.uri().path();
    if web.cfg.enabled {
        if path == "/ws" {
            return websocket::accept(web, req, upgrade);
        }
        if let Some(asset) = static_files::find(path) {
            return match *req.method() {
                Method::GET | Method::HEAD => static_files::respond(asset, req.method() == Method::HEAD),
                _ => plain(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed"),
            };
        }
    }
    let caps = web.shared.hub.caps();
    if caps.serves_path(path) {
        return caps.http(req, peer).await;
    }
    plain(StatusCode::NOT_FOUND, "Not Found")
}
