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
use std::io;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

const READ_CHUNK: usize = 16 * 1024;

/// Reads messages from a plain TCP socket.
pub struct TcpReader {
    rd: Arc<TcpStream>,
    framer: Framer,
    ready: VecDeque<Inbound>,
    grace: Duration,
    eof: bool,
}

impl TcpReader {
    /// `grace` is how long a bare packet may wait for more bytes before it counts as complete.
    pub fn new(rd: Arc<TcpStream>, grace: Duration) -> Self {
        Self { rd, framer: Framer::new(), ready: VecDeque::new(), grace, eof: false }
    }

    /// Reads what is there now without awaiting; Ok(0) means end of stream.
    fn read_now(&mut self) -> io::Result<usize> {
        let mut buf = [0u8; READ_CHUNK];
        let n = self.rd.try_read(&mut buf)?;
        self.framer.push(&buf[..n], &mut self.ready);
        Ok(n)
    }
}

#[async_trait]
impl MessageReader for TcpReader {
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
                match Box::pin(tokio::time::timeout(self.grace, self.rd.readable())).await {
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
            match self.read_now() {
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
}

/// Reads messages from any byte stream (TLS); keeps a heap buffer.
pub struct StreamReader<R> {
    rd: R,
    framer: Framer,
    ready: VecDeque<Inbound>,
    grace: Duration,
    buf: Vec<u8>,
    eof: bool,
}

impl<R: AsyncRead + Unpin + Send> StreamReader<R> {
    /// Wraps a reader; `grace` as for [`TcpReader::new`].
    pub fn new(rd: R, grace: Duration) -> Self {
        Self { rd, framer: Framer::new(), ready: VecDeque::new(), grace, buf: vec![0; READ_CHUNK], eof: false }
    }
}

#[async_trait]
impl<R: AsyncRead + Unpin + Send> MessageReader for StreamReader<R> {
    async fn next(&mut self) -> Option<Inbound> {
        loop {
            if let Some(out) = super::ready_or_end(&mut self.ready, self.eof) {
                return out;
            }
            let read = if self.framer.has_pending() {
                match tokio::time::timeout(self.grace, self.rd.read(&mut self.buf)).await {
                    Err(_) => {
                        self.framer.flush(&mut self.ready);
                        continue;
                    }
                    Ok(r) => r,
                }
            } else {
                self.rd.read(&mut self.buf).await
            };
            match read {
                Ok(0) | Err(_) => {
                    self.eof = true;
                    self.framer.flush(&mut self.ready);
                }
                Ok(n) => self.framer.push(&self.buf[..n], &mut self.ready),
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
