//! The web app, embedded in the binary: `index.html` with `app.css` and `app.js`
//! inlined, so a page load is one request. (A browser may keep a spare socket
//! open without sending anything; the main port greets such a socket as a chat
//! client after `sniff_ms`, and a later request on it would fail. With one
//! request per page there is no later request.) The CSP allows exactly the
//! inlined script and style, by hash.

use crate::http_reply::{bytes_body, Body};
use base64::Engine;
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Response, StatusCode};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

const INDEX: &str = include_str!("../../web/index.html");
const JS: &str = include_str!("../../web/app.js");
const CSS: &str = include_str!("../../web/app.css");
const ICON: &[u8] = include_bytes!("../../web/icon.svg");

/// One answer body with its content type and policy.
pub(super) struct Asset {
    body: Vec<u8>,
    content_type: &'static str,
    csp: String,
}

/// The page's CSP: its own inlined script and style (by hash), images from this
/// origin and upload previews (`blob:`), connections to this origin only.
fn csp(js: &str, css: &str) -> String {
    let hash = |s: &str| base64::engine::general_purpose::STANDARD.encode(Sha256::digest(s.as_bytes()));
    format!(
        "default-src 'none'; script-src 'sha256-{}'; style-src 'sha256-{}'; img-src 'self' data: blob:; \
         connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        hash(js),
        hash(css)
    )
}

fn page() -> &'static Asset {
    static PAGE: OnceLock<Asset> = OnceLock::new();
    PAGE.get_or_init(|| {
        let html = INDEX
            .replace("<!--STYLE-->", &format!("<style>{CSS}</style>"))
            .replace("<!--SCRIPT-->", &format!("<script>{JS}</script>"));
        Asset { body: html.into_bytes(), content_type: "text/html; charset=utf-8", csp: csp(JS, CSS) }
    })
}

fn icon() -> &'static Asset {
    static ICON_ASSET: OnceLock<Asset> = OnceLock::new();
    ICON_ASSET.get_or_init(|| Asset {
        body: ICON.to_vec(),
        content_type: "image/svg+xml",
        csp: "default-src 'none'; style-src 'unsafe-inline'".into(),
    })
}

/// The embedded file served at `path`, if any.
pub(super) fn find(path: &str) -> Option<&'static Asset> {
    match path {
        "/" | "/index.html" => Some(page()),
        "/favicon.ico" | "/icon.svg" => Some(icon()),
        _ => None,
    }
}

/// `200` with the file (no body for `HEAD`) and the security headers.
pub(super) fn respond(asset: &'static Asset, head: bool) -> Response<Body> {
    let mut r = Response::new(bytes_body(if head { &[][..] } else { &asset.body[..] }));
    *r.status_mut() = StatusCode::OK;
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    h.insert(CONTENT_LENGTH, HeaderValue::from(asset.body.len()));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(&asset.csp) {
        h.insert("content-security-policy", v);
    }
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_inlines_its_code_and_the_csp_names_it() {
        assert!(!JS.contains("</script") && !CSS.contains("</style"), "inlined code must not close its tag");
        let html = String::from_utf8(page().body.clone()).unwrap();
        assert!(html.contains(&format!("<script>{JS}</script>")) && html.contains(&format!("<style>{CSS}</style>")));
        assert!(!html.contains("<!--SCRIPT-->") && !html.contains("<!--STYLE-->"));
        assert!(page().csp.starts_with("default-src 'none'; script-src 'sha256-"), "{}", page().csp);
        assert!(!page().csp.contains("unsafe"));
    }
}
