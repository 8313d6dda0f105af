//! HTTP requests for capabilities that declare path prefixes (protocol.md §8); the
//! core's router (`crate::http`) owns the connection. A request body is read only up to the
//! capability's declared maximum (a larger `Content-Length` is refused before
//! reading any of it) and within the upload budgets (`crate::uploads`), then handed
//! to the plugin on the blocking pool: as a temporary file for a capability that
//! asked for that (`http_body_file`), else in memory.

use super::cap::{CallError, Cap, Loaded};
use crate::http::{bytes_body, plain, refuse, Body};
use crate::uploads::{Refusal, Uploads};
use futures_util::TryStreamExt;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{HeaderName, HeaderValue, CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING};
use hyper::{Request, Response, StatusCode};
use std::net::SocketAddr;
use std::time::Duration;
use tracing::{debug, warn};

/// A request body must arrive within this.
const BODY_TIMEOUT: Duration = Duration::from_secs(120);
/// The plugin's HTTP handler must answer within this.
const HANDLER_TIMEOUT: Duration = Duration::from_secs(60);

/// Answers one request for a path a capability declared (the core's router found it).
pub(crate) async fn handle(
    inner: &Loaded,
    req: Request<Incoming>,
    peer: SocketAddr,
    uploads: &Uploads,
) -> Response<Body> {
    let Some(cap) = inner.http_route(req.uri().path()) else { return plain(StatusCode::NOT_FOUND, "Not Found") };
    let max = cap.info.http_max_body;
    let declared =
        req.headers().get(CONTENT_LENGTH).map(|v| v.to_str().ok().and_then(|s| s.trim().parse::<u64>().ok()));
    let declared = match declared {
        Some(None) => return refuse(StatusCode::BAD_REQUEST, "Bad Content-Length"),
        Some(Some(n)) if n > max => {
            return refuse(StatusCode::BAD_REQUEST, &format!("Body too large (limit {max} bytes)"))
        }
        d => d.flatten(),
    };
    let has_body = declared.is_some_and(|n| n > 0) || req.headers().contains_key(TRANSFER_ENCODING);
    let to_file = has_body && cap.info.http_body_file;
    let (parts, body) = req.into_parts();
    let mut request = plugin_api::HttpRequest {
        method: parts.method.as_str().to_owned(),
        path: parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/").to_owned(),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect(),
        body: Vec::new(),
    };
    if !has_body {
        return call(cap, peer, move |p| p.http(request)).await;
    }
    let answer = async {
        let mut ticket = uploads.admit(peer.ip(), declared, to_file).await?;
        if to_file {
            let temp = uploads.to_file(&mut ticket, body, max, BODY_TIMEOUT).await?;
            drop(ticket);
            let path = temp.path().to_owned();
            let resp = call(cap, peer, move |p| p.http_body_file(request, &path)).await;
            // The temporary file goes only after the handler is done with it.
            drop(temp);
            return Ok(resp);
        }
        request.body = uploads.to_memory(&mut ticket, body, max, BODY_TIMEOUT).await?;
        drop(ticket);
        Ok::<_, Refusal>(call(cap, peer, move |p| p.http(request)).await)
    };
    match answer.await {
        Ok(resp) => resp,
        Err(Refusal(status, text)) => {
            debug!(%peer, capability = %cap.info.name, "upload refused: {text}");
            refuse(status, &text)
        }
    }
}

/// Runs the plugin's handler and turns its answer into a response.
async fn call(
    cap: &Cap,
    peer: SocketAddr,
    f: impl FnOnce(&plugin_api::loader::Plugin) -> Result<plugin_api::HttpResponse, String> + Send + 'static,
) -> Response<Body> {
    let name = cap.info.name.clone();
    let resp = match cap.call(HANDLER_TIMEOUT, f).await {
        Ok(r) => r,
        Err(CallError::Failed(e)) => {
            warn!(capability = %name, %peer, "HTTP handler failed: {e}");
            return plain(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
        }
        Err(CallError::TimedOut) => {
            warn!(capability = %name, %peer, "HTTP handler timed out");
            return plain(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable");
        }
    };
    respond(&name, resp).await
}

/// Turns the plugin's answer into a hyper response; files are streamed from disk.
async fn respond(cap: &str, resp: plugin_api::HttpResponse) -> Response<Body> {
    let (body, length) = match resp.body {
        plugin_api::HttpBody::Bytes(b) => {
            let n = b.len() as u64;
            (bytes_body(b), n)
        }
        plugin_api::HttpBody::File(path) => {
            let file = match tokio::fs::File::open(&path).await {
                Ok(f) => f,
                Err(e) => {
                    debug!(capability = cap, "cannot open {}: {e}", path.display());
                    return plain(StatusCode::NOT_FOUND, "Not Found");
                }
            };
            let n = match file.metadata().await {
                Ok(m) => m.len(),
                Err(_) => return plain(StatusCode::NOT_FOUND, "Not Found"),
            };
            let frames = tokio_util::io::ReaderStream::new(file).map_ok(Frame::data);
            (BodyExt::boxed(StreamBody::new(frames)), n)
        }
    };
    let mut r = Response::new(body);
    *r.status_mut() = StatusCode::from_u16(resp.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (k, v) in resp.headers {
        match (HeaderName::from_bytes(k.as_bytes()), HeaderValue::from_str(&v)) {
            // The server owns framing headers.
            (Ok(k), Ok(_)) if k == CONTENT_LENGTH || k == TRANSFER_ENCODING || k == CONNECTION => {}
            (Ok(k), Ok(v)) => {
                r.headers_mut().append(k, v);
            }
            _ => warn!(capability = cap, header = %k, "invalid response header dropped"),
        }
    }
    r.headers_mut().insert(CONTENT_LENGTH, HeaderValue::from(length));
    r
}
