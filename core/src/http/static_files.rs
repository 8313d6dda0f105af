//! The web app's files, embedded in the binary, with the security headers every
//! page answer carries.

use super::{bytes_body, Body};
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Response, StatusCode};

/// One embedded file.
pub(super) struct Asset {
    body: &'static [u8],
    content_type: &'static str,
}

const INDEX: Asset = Asset { body: include_bytes!("../../web/index.html"), content_type: "text/html; charset=utf-8" };
const JS: Asset = Asset { body: include_bytes!("../../web/app.js"), content_type: "text/javascript; charset=utf-8" };
const CSS: Asset = Asset { body: include_bytes!("../../web/app.css"), content_type: "text/css; charset=utf-8" };
const ICON: Asset = Asset { body: include_bytes!("../../web/icon.svg"), content_type: "image/svg+xml" };

/// The page may load its own script, style and images (and uploads shown as
/// `blob:` previews) and talk to its own origin; nothing else, no inline code.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
     connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The embedded file served at `path`, if any.
pub(super) fn find(path: &str) -> Option<&'static Asset> {
    match path {
        "/" | "/index.html" => Some(&INDEX),
        "/app.js" => Some(&JS),
        "/app.css" => Some(&CSS),
        "/icon.svg" | "/favicon.ico" => Some(&ICON),
        _ => None,
    }
}

/// `200` with the file (no body for `HEAD`) and the security headers.
pub(super) fn respond(asset: &Asset, head: bool) -> Response<Body> {
    let mut r = Response::new(bytes_body(if head { &[][..] } else { asset.body }));
    *r.status_mut() = StatusCode::OK;
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    h.insert(CONTENT_LENGTH, HeaderValue::from(asset.body.len()));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("content-security-policy", HeaderValue::from_static(CSP));
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    r
}
