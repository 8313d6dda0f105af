//! A browser on the main port that was greeted as a chat client: it opened the
//! connection ahead of time (a preconnect) and stayed silent past `sniff_ms`, so
//! the greeting went out before its request. Nothing sent now can be a valid HTTP
//! response, so the connection is closed at once (see docs/web-client.md).

use super::ctx::Ctx;

/// Methods a browser sends on a page's connections.
const METHODS: &[&str] = &["GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH"];

/// Is `text` an HTTP/1.x request line (`GET /path HTTP/1.1`)?
pub fn is_request_line(text: &str) -> bool {
    let mut parts = text.split(' ');
    let (Some(method), Some(target), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    METHODS.contains(&method) && target.starts_with('/') && matches!(version, "HTTP/1.1" | "HTTP/1.0")
}

/// Ends the session without a reply.
pub fn apply(ctx: &mut Ctx<'_>) {
    tracing::debug!(session = ctx.session.id, peer = %ctx.session.peer, "HTTP request after the greeting: closing");
    ctx.session.end("http_after_greeting");
    ctx.state.quit = true;
}

#[cfg(test)]
mod tests {
    use super::is_request_line;

    #[test]
    fn request_lines() {
        assert!(is_request_line("GET / HTTP/1.1"));
        assert!(is_request_line("POST /upload HTTP/1.0"));
        assert!(!is_request_line("GET / HTTP/2"));
        assert!(!is_request_line("GET me a coffee"));
        assert!(!is_request_line("GET /x HTTP/1.1 extra"));
        assert!(!is_request_line("/login GET HTTP/1.1"));
    }
}
