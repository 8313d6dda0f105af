//! HTTP response bodies and short answers, shared by the core's router
//! (`http/`) and the capabilities' routes. A leaf module: the `Capabilities`
//! trait names [`Body`] without depending on the router.

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderValue, CONNECTION, CONTENT_TYPE};
use hyper::{Response, StatusCode};

/// A response body: bytes in memory or a file streamed from disk.
pub type Body = BoxBody<Bytes, std::io::Error>;

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
