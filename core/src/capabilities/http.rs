//! HTTP requests for capabilities that declare path prefixes (protocol.md §8); the
//! core's router (`crate::http`) owns the connection. A request body is read only up to the
//! capability's declared maximum (a larger `Content-Length` is refused before
//! reading any of it), then handed to the plugin on the blocking pool.

use super::cap::{CallError, Loaded};
use crate::http::{bytes_body, plain, refuse, Body};
use futures_util::TryStreamExt;
use http_body_util::{BodyExt, LengthLimitError, Limited, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{HeaderName, HeaderValue, CONNECTION, CONTENT_LENGTH};
use hyper::{Request, Response, StatusCode};
use std::net::SocketAddr;
use std::time::Duration;
use tracing::{debug, warn};

/// A request body must arrive within this.
const BODY_TIMEOUT: Duration = Duration::from_secs(120);
/// The plugin's HTTP handler must answer within this.
const HANDLER_TIMEOUT: Duration = Duration::from_secs(60);

/// Answers one request for a path a capability declared (the core's router found it).
pub(crate) async fn handle(inner: &Loaded, req: Request<Incoming>, peer: SocketAddr) -> Response<Body> {
    let Some(cap) = inner.http_route(req.uri().path()) else { return plain(StatusCode::NOT_FOUND, "Not Found") };
    let max = cap.info.http_max_body;
    let declared =
        req.headers().get(CONTENT_LENGTH).map(|v| v.to_str().ok().and_then(|s| s.trim().parse::<u64>().ok()));
    match declared {
        Some(None) => return refuse(StatusCode::BAD_REQUEST, "Bad Content-Length"),
        Some(Some(n)) if n > max => {
            return refuse(StatusCode::BAD_REQUEST, &format!("Body too large (limit {max} bytes)"))
        }
        _ => {}
    }
    let method = req.method().as_str().to_owned();
    let path = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/").to_owned();
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let limit = usize::try_from(max).unwrap_or(usize::MAX);
    let body = match tokio::time::timeout(BODY_TIMEOUT, Limited::new(req.into_body(), limit).collect()).await {
        Ok(Ok(b)) => b.to_bytes().to_vec(),
        Ok(Err(e)) if e.is::<LengthLimitError>() => {
            return refuse(StatusCode::BAD_REQUEST, &format!("Body too large (limit {max} bytes)"))
        }
        Ok(Err(e)) => return refuse(StatusCode::BAD_REQUEST, &format!("Bad request body: {e}")),
        Err(_) => return refuse(StatusCode::REQUEST_TIMEOUT, "Request body too slow"),
    };
    let req = plugin_api::HttpRequest { method, path, headers, body };
    let name = cap.info.name.clone();
    let resp = match cap.call(HANDLER_TIMEOUT, move |p| p.http(req)).await {
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
            (Ok(k), Ok(_)) if k == CONTENT_LENGTH || k == hyper::header::TRANSFER_ENCODING || k == CONNECTION => {}
            (Ok(k), Ok(v)) => {
                r.headers_mut().append(k, v);
            }
            _ => warn!(capability = cap, header = %k, "invalid response header dropped"),
        }
    }
    r.headers_mut().insert(CONTENT_LENGTH, HeaderValue::from(length));
    r
}
