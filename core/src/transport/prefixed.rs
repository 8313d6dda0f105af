//! Looking at the first bytes of a stream that cannot be peeked (TLS): they are
//! read, then replayed in front of the rest by [`Prefixed`].

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

/// A stream whose first bytes were already read; reads return them first.
pub struct Prefixed<S> {
    head: Vec<u8>,
    pos: usize,
    inner: S,
}

impl<S> Prefixed<S> {
    /// Replays `head`, then reads from `inner`.
    pub fn new(head: Vec<u8>, inner: S) -> Self {
        Self { head, pos: 0, inner }
    }
}

/// Reads up to `want.len()` first bytes, for at most `window`, and tells whether
/// they start with `want` (e.g. `GET `). The bytes read are kept in the result.
pub async fn starts_with<S: AsyncRead + Unpin>(stream: S, wants: &[&[u8]], window: Duration) -> (bool, Prefixed<S>) {
    let mut s = Prefixed::new(Vec::new(), stream);
    let longest = wants.iter().map(|w| w.len()).max().unwrap_or(0);
    let deadline = tokio::time::Instant::now() + window;
    let mut buf = [0u8; 8];
    while s.head.len() < longest {
        let still_possible = wants.iter().any(|w| w.starts_with(&s.head) || s.head.starts_with(w));
        if !still_possible || wants.iter().any(|w| s.head.starts_with(w)) {
            break;
        }
        let room = (longest - s.head.len()).min(buf.len());
        match tokio::time::timeout_at(deadline, s.inner.read(&mut buf[..room])).await {
            Ok(Ok(n)) if n > 0 => s.head.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    let matched = wants.iter().any(|w| s.head.starts_with(w));
    (matched, s)
}

impl<S: AsyncRead + Unpin> AsyncRead for Prefixed<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if self.pos < self.head.len() {
            let n = (self.head.len() - self.pos).min(buf.remaining());
            let start = self.pos;
            buf.put_slice(&self.head[start..start + n]);
            self.pos += n;
            if self.pos == self.head.len() {
                self.head = Vec::new();
                self.pos = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Prefixed<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn http_is_recognised_and_bytes_are_replayed() {
        let (mut a, b) = tokio::io::duplex(64);
        a.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        let (yes, mut s) = starts_with(b, &[b"GET ", b"POST "], Duration::from_millis(200)).await;
        assert!(yes);
        let mut got = [0u8; 16];
        s.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"GET / HTTP/1.1\r\n");

        let (mut a, b) = tokio::io::duplex(64);
        a.write_all(b"/login a b\n").await.unwrap();
        let (yes, mut s) = starts_with(b, &[b"GET ", b"POST "], Duration::from_millis(200)).await;
        assert!(!yes);
        let mut got = [0u8; 11];
        s.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"/login a b\n");

        let (_a, b) = tokio::io::duplex(64);
        let t = std::time::Instant::now();
        let (yes, _) = starts_with(b, &[b"GET "], Duration::from_millis(50)).await;
        assert!(!yes && t.elapsed() < Duration::from_secs(1));
    }
}
