//! WebSocket framing (RFC 6455) in front of the session: one text frame in holds
//! one message (or several, split on `\n` exactly as on the plain port,
//! protocol.md §2), and every outbound message is one text frame without its
//! trailing `\n`. A multi-line reply (`/help`) stays one frame with `\n` between
//! its lines. Binary frames are read like text frames (their bytes must be UTF-8).
//!
//! tungstenite reads frames and answers pings and closes. Outbound lines skip its
//! per-message sink: the writer encodes a whole batch of text frames (headers by
//! tungstenite's `FrameHeader`) into one buffer and writes it with one call, like
//! the plain port. The two halves share the socket's write side: control frames
//! tungstenite writes while reading go out at once when the writer is idle, or
//! right after its current batch.

use super::{write_tracked, Inbound, MessageReader, MessageWriter, Progress};
use crate::framing::split_complete;
use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf, ReadHalf, WriteHalf};
use tokio::sync::Mutex as AsyncMutex;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::{Frame, FrameHeader};
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// A close handshake that takes longer than this is abandoned.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// tungstenite settings: frames and messages bounded by `max_bytes`, small read buffer
/// (it is allocated for every connection).
pub fn config(max_bytes: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(8 * 1024)
        .max_message_size(Some(max_bytes))
        .max_frame_size(Some(max_bytes))
}

/// The write side both halves use, and the control bytes waiting for it.
struct Shared<S> {
    wr: AsyncMutex<WriteHalf<S>>,
    /// Control frames (pongs, close replies) tungstenite wrote while the writer was busy.
    control: std::sync::Mutex<Vec<u8>>,
    /// The client sent a close: tungstenite answered it, the writer must not send another.
    peer_closed: AtomicBool,
}

impl<S: AsyncWrite> Shared<S> {
    fn take_control(&self) -> Vec<u8> {
        std::mem::take(&mut *crate::sync::lock(&self.control))
    }
}

/// The session halves of an upgraded connection (the HTTP handshake is done).
pub async fn halves<S>(stream: S, config: WebSocketConfig) -> (Box<dyn MessageReader>, Box<dyn MessageWriter>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (rd, wr) = tokio::io::split(stream);
    let shared = Arc::new(Shared {
        wr: AsyncMutex::new(wr),
        control: std::sync::Mutex::new(Vec::new()),
        peer_closed: AtomicBool::new(false),
    });
    let io = ReadSide { rd, shared: shared.clone() };
    let ws = WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await;
    (Box::new(WsReader { ws, ready: VecDeque::new() }), Box::new(WsWriter { shared, buf: Vec::new() }))
}

/// What tungstenite reads from and writes its control frames to.
struct ReadSide<S> {
    rd: ReadHalf<S>,
    shared: Arc<Shared<S>>,
}

impl<S: AsyncRead> AsyncRead for ReadSide<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.rd).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite> AsyncWrite for ReadSide<S> {
    /// Queues control bytes; they are sent on flush (or by the writer after its batch).
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        crate::sync::lock(&self.shared.control).extend_from_slice(data);
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Busy writer: it sends the control bytes after its batch (it checks after unlocking).
        let Ok(mut wr) = self.shared.wr.try_lock() else { return Poll::Ready(Ok(())) };
        let mut control = crate::sync::lock(&self.shared.control);
        while !control.is_empty() {
            match Pin::new(&mut *wr).poll_write(cx, &control) {
                Poll::Ready(Ok(n)) => {
                    control.drain(..n);
                }
                other => return other.map_ok(|_| ()),
            }
        }
        drop(control);
        Pin::new(&mut *wr).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}

/// Reads messages from WebSocket frames.
pub struct WsReader<S> {
    ws: WebSocketStream<ReadSide<S>>,
    ready: VecDeque<Inbound>,
}

#[async_trait]
impl<S: AsyncRead + AsyncWrite + Unpin + Send> MessageReader for WsReader<S> {
    async fn next(&mut self) -> Option<Inbound> {
        loop {
            if let Some(m) = self.ready.pop_front() {
                return Some(m);
            }
            // A frame over `max_message_bytes`, bad UTF-8 in a text frame, a close or a
            // broken connection all end the session.
            match self.ws.next().await? {
                Ok(Message::Text(t)) => split_complete(t.as_bytes(), &mut self.ready),
                Ok(Message::Binary(b)) => split_complete(&b, &mut self.ready),
                Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => {}
                Ok(Message::Close(_)) => {
                    self.ws.get_ref().shared.peer_closed.store(true, Ordering::Relaxed);
                    return None;
                }
                Err(e) => {
                    tracing::debug!("WebSocket read ended: {e}");
                    return None;
                }
            }
        }
    }
}

/// Writes a batch of messages as text frames in one buffer and one write.
pub struct WsWriter<S> {
    shared: Arc<Shared<S>>,
    buf: Vec<u8>,
}

/// Appends one server text frame (unmasked, final) holding `msg` without its trailing `\n`.
fn encode(msg: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
    let text = msg.strip_suffix(b"\n").unwrap_or(msg);
    std::str::from_utf8(text).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    let header = FrameHeader { opcode: OpCode::Data(Data::Text), ..FrameHeader::default() };
    header.format(text.len() as u64, out).map_err(io::Error::other)?;
    out.extend_from_slice(text);
    Ok(())
}

impl<S: AsyncWrite + Send> WsWriter<S> {
    /// Writes `bytes`, then whatever control frames arrived meanwhile.
    async fn send(&mut self, progress: Progress<'_>) -> io::Result<()> {
        let mut wr = self.shared.wr.lock().await;
        let control = self.shared.take_control();
        write_tracked(&mut *wr, &control, progress).await?;
        write_tracked(&mut *wr, &self.buf, progress).await?;
        wr.flush().await?;
        drop(wr);
        // Control bytes queued while we held the lock: send them now.
        loop {
            let control = self.shared.take_control();
            if control.is_empty() {
                return Ok(());
            }
            let mut wr = self.shared.wr.lock().await;
            write_tracked(&mut *wr, &control, progress).await?;
            wr.flush().await?;
        }
    }
}

#[async_trait]
impl<S: AsyncWrite + Send + 'static> MessageWriter for WsWriter<S> {
    async fn write(&mut self, batch: &[Bytes], progress: Progress<'_>) -> io::Result<()> {
        self.buf.clear();
        for msg in batch {
            encode(msg, &mut self.buf)?;
        }
        let res = self.send(progress).await;
        // Idle sessions keep no buffers: thousands of them add up.
        self.buf = Vec::new();
        res
    }

    async fn shutdown(&mut self) {
        if !self.shared.peer_closed.load(Ordering::Relaxed) {
            let bye = Frame::close(Some(CloseFrame { code: CloseCode::Normal, reason: "".into() }));
            self.buf.clear();
            let _ = bye.format(&mut self.buf);
        }
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
            let _ = self.send(&|| {}).await;
            let _ = self.shared.wr.lock().await.shutdown().await;
        })
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_drop_the_trailing_newline_only() {
        let mut out = Vec::new();
        encode(b"a\nb\n", &mut out).unwrap();
        assert_eq!(out, b"\x81\x03a\nb");
        out.clear();
        encode(b"x", &mut out).unwrap();
        assert_eq!(out, b"\x81\x01x");
        out.clear();
        let long = vec![b'y'; 300];
        encode(&long, &mut out).unwrap();
        assert_eq!(&out[..4], &[0x81, 126, 1, 44]);
    }
}
