//! Transports put a framing in front of the one session state machine:
//! plain TCP (protocol.md §2), the legacy encrypted port (§6), TLS and WebSocket.

use async_trait::async_trait;
use bytes::Bytes;
use std::io;
use tokio::io::{AsyncWrite, AsyncWriteExt};

pub use crate::framing::Inbound;

pub mod legacy;
pub mod plain;
pub mod prefixed;
pub mod tls;
pub mod websocket;

/// Runs a handshake bounded by `limit`; failures are logged at debug with the
/// peer (the server logs the refusal itself).
pub async fn handshake_within<T>(
    what: &str,
    peer: &str,
    limit: std::time::Duration,
    handshake: impl std::future::Future<Output = io::Result<T>>,
) -> io::Result<T> {
    match tokio::time::timeout(limit, handshake).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "{what} handshake failed");
            Err(e)
        }
        Err(_) => {
            tracing::debug!(%peer, ?limit, "{what} handshake timed out");
            Err(io::Error::new(io::ErrorKind::TimedOut, format!("{what} handshake timed out")))
        }
    }
}

/// What a reader hands out before reading more: the next ready message, or the
/// end once the connection is closed and nothing is left.
pub(crate) fn ready_or_end(ready: &mut std::collections::VecDeque<Inbound>, ended: bool) -> Option<Option<Inbound>> {
    match ready.pop_front() {
        Some(m) => Some(Some(m)),
        None if ended => Some(None),
        None => None,
    }
}

/// For `poll_ready`: true when `next` has something to do — queued messages, or `more`
/// (the end, a partial message). Otherwise the empty queue's buffer is dropped: idle
/// sessions keep none, and thousands of them add up.
pub(crate) fn has_work(ready: &mut std::collections::VecDeque<Inbound>, more: bool) -> bool {
    if !ready.is_empty() || more {
        return true;
    }
    *ready = std::collections::VecDeque::new();
    false
}

/// Where a session's input comes from.
#[async_trait]
pub trait MessageReader: Send {
    /// The next client message, or `None` once the connection is closed or broken.
    async fn next(&mut self) -> Option<Inbound>;

    /// Ready once [`next`](Self::next) has something to do: input, the end, or a
    /// partial message to time out. Registers the task's waker otherwise, so an
    /// idle session waits without `next`'s (boxed) future. Transports that cannot
    /// tell are always ready: their idle sessions wait in `next`.
    fn poll_ready(&mut self, _cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        std::task::Poll::Ready(())
    }
}

/// A chat session's input and output.
pub type Halves = (Box<dyn MessageReader>, Box<dyn MessageWriter>);

/// Called whenever the socket accepted bytes (the slow-reader rule watches it).
pub type Progress<'a> = &'a (dyn Fn() + Send + Sync);

/// Writes all of `buf`, reporting each chunk the socket accepted.
pub(crate) async fn write_tracked<W: AsyncWrite + Unpin>(
    wr: &mut W,
    mut buf: &[u8],
    progress: Progress<'_>,
) -> io::Result<()> {
    while !buf.is_empty() {
        let n = wr.write(buf).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        progress();
        buf = &buf[n..];
    }
    Ok(())
}

/// Where a session's output goes.
#[async_trait]
pub trait MessageWriter: Send {
    /// Writes a batch of outbound messages. Each ends with `\n`; a message may
    /// hold several lines (help texts). A batch is one write call where the
    /// socket takes it whole; `progress` is called as the socket accepts bytes.
    async fn write(&mut self, batch: &[Bytes], progress: Progress<'_>) -> io::Result<()>;
    /// Closes the write side after the last batch.
    async fn shutdown(&mut self);
    /// Plain TCP: the socket, for the session to write directly without a writer
    /// task (see [`crate::outbox`]). Other transports keep their writer task.
    fn direct(&self) -> Option<std::sync::Arc<tokio::net::TcpStream>> {
        None
    }
}
