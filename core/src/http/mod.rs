//! HTTP on the main port and the TLS port (protocol.md §7): the core owns it. It serves
//! the web app (`GET /` and its assets), the WebSocket endpoint (`GET /ws`) and
//! then whatever paths the loaded capabilities declared (`/upload`, `/file/…`).
//! hyper parses HTTP/1.1; nothing here parses HTTP by hand.

mod static_files;
mod web;
mod websocket;

pub use web::Web;

pub use crate::http_reply::{bytes_body, plain, refuse, Body};
use crate::transport::Halves;
use hyper::body::Incoming;
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

/// Serves one HTTP connection (keep-alive included). A WebSocket upgrade hands back the
/// chat session's halves: the caller runs the session in a task of its own (this
/// future's HTTP state would otherwise stay in every WebSocket session's task) and
/// passes the connection slot on to it.
pub async fn serve<I>(web: Arc<Web>, io: I, peer: SocketAddr) -> Option<Halves>
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
    let on_upgrade = upgrade.lock().unwrap_or_else(|p| p.into_inner()).take()?;
    websocket::halves(&web, on_upgrade, peer).await
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
        return caps.http(req, peer, &web.shared.uploads).await;
    }
    plain(StatusCode::NOT_FOUND, "Not Found")
}
