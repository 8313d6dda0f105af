//! Plain TCP framing (protocol.md §2) over any byte stream.
//!
//! Idle sessions hold no read buffer: the TCP reader waits for readability
//! and reads into a stack buffer, keeping only the unterminated tail. The
//! socket is shared (`Arc<TcpStream>`): the session writes it directly
//! (`outbox.rs`), so there is no write half and no writer task.

use super::{write_tracked, Inbound, MessageReader, MessageWriter, Progress};
use crate::framing::Framer;
use async_trait::async_trait;
use bytes::Bytes;
use std::collections::VecDeque;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

const READ_CHUNK: usize = 16 * 1024;

/// Reads messages from a plain TCP socket.
pub struct TcpReader {
    rd: Arc<TcpStream>,
    framer: Framer,
    ready: VecDeque<Inbound>,
    /// Milliseconds (a `Duration` is a word more in every idle session).
    grace_ms: u32,
    eof: bool,
}

impl TcpReader {
    /// `grace` is how long a bare packet may wait for more bytes before it counts as complete.
    pub fn new(rd: Arc<TcpStream>, grace: Duration) -> Self {
        let grace_ms = u32::try_from(grace.as_millis()).unwrap_or(u32::MAX);
        Self { rd, framer: Framer::new(), ready: VecDeque::new(), grace_ms, eof: false }
    }

    /// Reads what is there now without awaiting; Ok(0) means end of stream.
    fn read_now(&mut self) -> io::Result<usize> {
        let mut buf = [0u8; READ_CHUNK];
        let n = self.rd.try_read(&mut buf)?;
        self.framer.push(&buf[..n], &mut self.ready);
        Ok(n)
    }

    /// The end of the stream (or a broken one) completes what was buffered.
    fn after_read(&mut self, read: io::Result<usize>) {
        match read {
            Ok(0) => {
                self.eof = true;
                self.framer.flush(&mut self.ready);
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(_) => {
                self.eof = true;
                self.framer.flush(&mut self.ready);
            }
        }
    }
}

#[async_trait]
impl MessageReader for TcpReader {
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            if super::has_work(&mut self.ready, self.eof || self.framer.has_pending()) {
                return Poll::Ready(());
            }
            if self.rd.poll_read_ready(cx).is_pending() {
                return Poll::Pending;
            }
            // Readiness is only cleared by a read that would block: read here, so an
            // idle session's waker is registered anew instead of `next` waiting.
            let read = self.read_now();
            self.after_read(read);
        }
    }

    async fn next(&mut self) -> Option<Inbound> {
        loop {
            if let Some(m) = self.ready.pop_front() {
                return Some(m);
            }
            // Idle sessions keep no buffers: thousands of them add up.
            self.ready = VecDeque::new();
            if self.eof {
                return None;
            }
            if self.framer.has_pending() {
                // Boxed: the timer is only needed mid-message, so idle sessions don't carry it.
                let grace = Duration::from_millis(self.grace_ms.into());
                match Box::pin(tokio::time::timeout(grace, self.rd.readable())).await {
                    Err(_) => {
                        self.framer.flush(&mut self.ready);
                        continue;
                    }
                    Ok(Err(_)) => self.eof = true,
                    Ok(Ok(())) => {}
                }
            } else if self.rd.readable().await.is_err() {
                self.eof = true;
            }
            if self.eof {
                self.framer.flush(&mut self.ready);
                continue;
            }
            let read = self.read_now();
            self.after_read(read);
        }
    }
}

/// Reads messages from any byte stream (TLS). Like [`TcpReader`] it keeps no read
/// buffer while idle: each read goes into a stack buffer inside one poll.
pub struct StreamReader<R> {
    rd: R,
    framer: Framer,
    ready: VecDeque<Inbound>,
    grace_ms: u32,
    eof: bool,
}

/// What one stream read gives the reader (TLS needs less than a TCP read's chunk).
const STREAM_CHUNK: usize = 8 * 1024;

impl<R: AsyncRead + Unpin + Send> StreamReader<R> {
    /// Wraps a reader; `grace` as for [`TcpReader::new`].
    pub fn new(rd: R, grace: Duration) -> Self {
        let grace_ms = u32::try_from(grace.as_millis()).unwrap_or(u32::MAX);
        Self { rd, framer: Framer::new(), ready: VecDeque::new(), grace_ms, eof: false }
    }

    /// One read, framed at once; ready when it read something or the stream ended.
    fn poll_read_some(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); STREAM_CHUNK];
        let mut buf = ReadBuf::uninit(&mut buf);
        match Pin::new(&mut self.rd).poll_read(cx, &mut buf) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Ok(())) if !buf.filled().is_empty() => self.framer.push(buf.filled(), &mut self.ready),
            Poll::Ready(_) => {
                self.eof = true;
                self.framer.flush(&mut self.ready);
            }
        }
        Poll::Ready(())
    }
}

#[async_trait]
impl<R: AsyncRead + Unpin + Send> MessageReader for StreamReader<R> {
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            if super::has_work(&mut self.ready, self.eof || self.framer.has_pending()) {
                return Poll::Ready(());
            }
            if self.poll_read_some(cx).is_pending() {
                return Poll::Pending;
            }
        }
    }

    async fn next(&mut self) -> Option<Inbound> {
        loop {
            if let Some(out) = super::ready_or_end(&mut self.ready, self.eof) {
                return out;
            }
            if self.framer.has_pending() {
                let grace = Duration::from_millis(self.grace_ms.into());
                if tokio::time::timeout(grace, poll_fn(|cx| self.poll_read_some(cx))).await.is_err() {
                    self.framer.flush(&mut self.ready);
                }
            } else {
                poll_fn(|cx| self.poll_read_some(cx)).await;
            }
        }
    }
}

/// Writes messages to a plain byte stream; a batch of several is coalesced into one write.
pub struct PlainWriter<W> {
    wr: W,
}

impl<W> PlainWriter<W> {
    /// Wraps a writer.
    pub fn new(wr: W) -> Self {
        Self { wr }
    }
}

/// The writer of a plain TCP session: it hands the socket to the session
/// ([`MessageWriter::direct`]); `write` is there for completeness.
pub struct TcpWriter {
    sock: Arc<TcpStream>,
}

impl TcpWriter {
    /// Shares the socket the reader reads.
    pub fn new(sock: Arc<TcpStream>) -> Self {
        Self { sock }
    }
}

#[async_trait]
impl MessageWriter for TcpWriter {
    async fn write(&mut self, batch: &[Bytes], progress: Progress<'_>) -> io::Result<()> {
        for b in batch {
            let mut buf = &b[..];
            while !buf.is_empty() {
                self.sock.writable().await?;
                match self.sock.try_write(buf) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => {
                        progress();
                        buf = &buf[n..];
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }

    async fn shutdown(&mut self) {
        shutdown(&mut self.sock).await;
    }

    fn direct(&self) -> Option<Arc<TcpStream>> {
        Some(self.sock.clone())
    }
}

/// Closes the write side once the session holds the socket's only handle;
/// otherwise the last handle's drop closes it.
pub async fn shutdown(sock: &mut Arc<TcpStream>) {
    if let Some(sock) = Arc::get_mut(sock) {
        let _ = sock.shutdown().await;
    }
}

#[async_trait]
impl<W: AsyncWrite + Unpin + Send> MessageWriter for PlainWriter<W> {
    async fn write(&mut self, batch: &[Bytes], progress: Progress<'_>) -> io::Result<()> {
        match batch {
            [] => Ok(()),
            [one] => write_tracked(&mut self.wr, one, progress).await,
            many => {
                let total = many.iter().map(|b| b.len()).sum();
                let mut joined = Vec::with_capacity(total);
                for b in many {
                    joined.extend_from_slice(b);
                }
                write_tracked(&mut self.wr, &joined, progress).await
            }
        }?;
        self.wr.flush().await
    }

    async fn shutdown(&mut self) {
        let _ = self.wr.shutdown().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    async fn pair() -> (TcpReader, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let client = TcpStream::connect(listener.local_addr().expect("addr")).await.expect("connect");
        let (server, _) = listener.accept().await.expect("accept");
        (TcpReader::new(Arc::new(server), Duration::from_millis(50)), client)
    }

    /// Polls once: true when ready.
    async fn ready_now(r: &mut impl MessageReader) -> bool {
        poll_fn(|cx| Poll::Ready(r.poll_ready(cx).is_ready())).await
    }

    #[tokio::test]
    async fn idle_reader_waits_until_a_line_arrives_and_then_hands_it_out() {
        let (mut r, mut client) = pair().await;
        assert!(!ready_now(&mut r).await, "nothing sent yet");
        client.write_all(b"/ping\n").await.expect("write");
        tokio::time::timeout(Duration::from_secs(5), poll_fn(|cx| r.poll_ready(cx))).await.expect("woken");
        match r.next().await {
            Some(Inbound::Message(m)) => assert_eq!(m, "/ping"),
            other => panic!("expected a message, got {other:?}"),
        }
        // The read that found the line left the socket "ready": looking again reads
        // until it would block, so the reader is idle again (waker registered).
        assert!(!ready_now(&mut r).await, "idle again after the line was taken");
        assert_eq!(r.ready.capacity(), 0, "an idle reader keeps no queue");
    }

    #[tokio::test]
    async fn a_closed_connection_is_ready_and_ends() {
        let (mut r, client) = pair().await;
        drop(client);
        tokio::time::timeout(Duration::from_secs(5), poll_fn(|cx| r.poll_ready(cx))).await.expect("woken");
        assert!(r.next().await.is_none());
    }

    #[tokio::test]
    async fn a_partial_line_is_ready_so_next_times_it_out() {
        let (mut r, mut client) = pair().await;
        client.write_all(b"/pi").await.expect("write");
        tokio::time::timeout(Duration::from_secs(5), poll_fn(|cx| r.poll_ready(cx))).await.expect("woken");
        match tokio::time::timeout(Duration::from_secs(5), r.next()).await.expect("grace ends") {
            Some(Inbound::Message(m)) => assert_eq!(m, "/pi"),
            other => panic!("expected the bare packet, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_stream_reader_idles_without_buffers_and_frames_what_arrives() {
        let (mut client, server) = tokio::io::duplex(1024);
        let mut r = StreamReader::new(server, Duration::from_millis(50));
        assert!(!ready_now(&mut r).await, "nothing sent yet");
        assert_eq!(r.ready.capacity(), 0, "an idle reader keeps no queue");
        client.write_all(b"/ping\r\n/pi").await.expect("write");
        tokio::time::timeout(Duration::from_secs(5), poll_fn(|cx| r.poll_ready(cx))).await.expect("woken");
        assert_eq!(r.next().await, Some(Inbound::Message("/ping".into())));
        // The bare packet completes after the grace period.
        let bare = tokio::time::timeout(Duration::from_secs(5), r.next()).await.expect("grace ends");
        assert_eq!(bare, Some(Inbound::Message("/pi".into())));
        assert!(!ready_now(&mut r).await, "idle again");
        drop(client);
        tokio::time::timeout(Duration::from_secs(5), poll_fn(|cx| r.poll_ready(cx))).await.expect("woken by the end");
        assert_eq!(r.next().await, None);
    }
}
