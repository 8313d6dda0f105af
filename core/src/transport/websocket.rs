//! WebSocket framing (RFC 6455) in front of the session: one text frame in holds
//! one message (or several, split on `\n` exactly as on the plain port,
//! protocol.md §2), and every outbound message is one text frame without its
//! trailing `\n`. A multi-line reply (`/help`) stays one frame with `\n` between
//! its lines. Binary frames are read like text frames (their bytes must be UTF-8).
//!
//! tungstenite reads frames and answers pings and closes. Outbound lines skip its
//! per-message sink: the writer encodes a whole batch of text frames (headers by
//! tungstenite's `FrameHeader`) into one buffer and writes it with one call, like
//! the plain port. The two halves share the socket's write side under a plain
//! mutex held only inside a poll: control frames tungstenite writes while reading go
//! out at once when the writer is idle, or with the writer's next batch.
//! On the plain port the TCP socket is taken out of hyper's upgraded connection and
//! split without a lock.

use super::prefixed::Prefixed;
use super::{Inbound, MessageReader, MessageWriter, Progress};
use crate::framing::split_complete;
use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use std::any::Any;
use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::{Frame, FrameHeader};
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

/// A close handshake that takes longer than this is abandoned.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Control frames (pongs) waiting for a socket the client does not read: about 500 pongs.
const MAX_CONTROL_BYTES: usize = 64 * 1024;

/// tungstenite settings: frames and messages bounded by `max_bytes`, small read buffer
/// (every connection keeps one, idle or not; chat frames are short, and a longer
/// frame grows it to the frame's size).
pub fn config(max_bytes: usize) -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(1024).max_message_size(Some(max_bytes)).max_frame_size(Some(max_bytes))
}

/// The socket's write side and what waits for it.
struct Out<W> {
    wr: W,
    /// The writer is inside a batch: control bytes must not cut into its frames.
    busy: bool,
    /// Control frames (pongs, close replies) tungstenite wrote while the writer was busy.
    control: Vec<u8>,
}

/// What both halves share. The mutex is never held across an await.
struct Shared<W> {
    out: std::sync::Mutex<Out<W>>,
    /// The client sent a close: tungstenite answered it, the writer must not send another.
    peer_closed: AtomicBool,
}

impl<W: AsyncWrite + Unpin> Shared<W> {
    fn out(&self) -> std::sync::MutexGuard<'_, Out<W>> {
        crate::sync::lock(&self.out)
    }

    /// Writes all of `buf` (the caller marked the socket busy), reporting progress.
    async fn write_all(&self, mut buf: &[u8], progress: Progress<'_>) -> io::Result<()> {
        while !buf.is_empty() {
            let n = std::future::poll_fn(|cx| Pin::new(&mut self.out().wr).poll_write(cx, buf)).await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            progress();
            buf = &buf[n..];
        }
        std::future::poll_fn(|cx| Pin::new(&mut self.out().wr).poll_flush(cx)).await
    }
}

/// The session halves of an upgraded connection (the HTTP handshake is done).
pub async fn halves<S>(stream: S, config: WebSocketConfig) -> (Box<dyn MessageReader>, Box<dyn MessageWriter>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    match tcp_inside(stream) {
        Inside::Tcp(head, tcp) => {
            let (rd, wr) = tcp.into_split();
            halves_of(Prefixed::new(head, rd), wr, config).await
        }
        Inside::Other(stream) => {
            let (rd, wr) = tokio::io::split(stream);
            halves_of(rd, wr, config).await
        }
    }
}

enum Inside<S> {
    /// The TCP socket and the bytes hyper had read past the upgrade request.
    Tcp(Vec<u8>, TcpStream),
    Other(S),
}

/// Finds the TCP socket of a plain-port upgrade: `tokio::io::split` would lock on every
/// read and write, and hyper's boxed stream adds a layer of calls to each.
fn tcp_inside<S: 'static>(stream: S) -> Inside<S> {
    let mut slot = Some(stream);
    if let Some(up) = (&mut slot as &mut dyn Any).downcast_mut::<Option<TokioIo<Upgraded>>>() {
        if let Some(upgraded) = up.take() {
            match upgraded.into_inner().downcast::<TokioIo<TcpStream>>() {
                Ok(parts) => return Inside::Tcp(parts.read_buf.to_vec(), parts.io.into_inner()),
                Err(upgraded) => *up = Some(TokioIo::new(upgraded)),
            }
        }
    }
    match slot {
        Some(stream) => Inside::Other(stream),
        None => unreachable!("the stream is put back unless it was taken apart"),
    }
}

async fn halves_of<R, W>(rd: R, wr: W, config: WebSocketConfig) -> (Box<dyn MessageReader>, Box<dyn MessageWriter>)
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let shared = Arc::new(Shared {
        out: std::sync::Mutex::new(Out { wr, busy: false, control: Vec::new() }),
        peer_closed: AtomicBool::new(false),
    });
    let io = ReadSide { rd, shared: shared.clone() };
    let ws = WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await;
    (Box::new(WsReader { ws, ready: VecDeque::new(), ended: false }), Box::new(WsWriter { shared }))
}

/// What tungstenite reads from and writes its control frames to.
struct ReadSide<R, W> {
    rd: R,
    shared: Arc<Shared<W>>,
}

impl<R: AsyncRead + Unpin, W> AsyncRead for ReadSide<R, W> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.rd).poll_read(cx, buf)
    }
}

impl<R, W: AsyncWrite + Unpin> AsyncWrite for ReadSide<R, W> {
    /// Queues control bytes; they are sent on flush (or by the writer with its batch).
    /// A client that keeps pinging without reading the pongs ends its session here.
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let mut out = self.shared.out();
        if out.control.len() + data.len() > MAX_CONTROL_BYTES {
            return Poll::Ready(Err(io::Error::other("the client does not read its pongs")));
        }
        out.control.extend_from_slice(data);
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut out = self.shared.out();
        // Busy writer: it sends the control bytes once its batch is out.
        if out.busy {
            return Poll::Ready(Ok(()));
        }
        let Out { wr, control, .. } = &mut *out;
        while !control.is_empty() {
            match Pin::new(&mut *wr).poll_write(cx, control) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    control.drain(..n);
                }
                other => return other.map_ok(|_| ()),
            }
        }
        Pin::new(wr).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}

/// Reads messages from WebSocket frames.
struct WsReader<R, W> {
    ws: WebSocketStream<ReadSide<R, W>>,
    ready: VecDeque<Inbound>,
    ended: bool,
}

impl<R: AsyncRead + Unpin, W: AsyncWrite + Unpin> WsReader<R, W> {
    /// Takes in what tungstenite read. A frame over `max_message_bytes`, bad UTF-8 in a
    /// text frame, a close or a broken connection all end the session.
    fn take(&mut self, item: Option<Result<Message, WsError>>) {
        match item {
            Some(Ok(Message::Text(t))) => split_complete(t.as_bytes(), &mut self.ready),
            Some(Ok(Message::Binary(b))) => split_complete(&b, &mut self.ready),
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
            Some(Ok(Message::Close(_))) => {
                self.ws.get_ref().shared.peer_closed.store(true, Ordering::Relaxed);
                self.ended = true;
            }
            Some(Err(e)) => {
                tracing::debug!("WebSocket read ended: {e}");
                self.ended = true;
            }
            None => self.ended = true,
        }
    }
}

#[async_trait]
impl<R: AsyncRead + Unpin + Send, W: AsyncWrite + Unpin + Send> MessageReader for WsReader<R, W> {
    /// Reads here, so an idle session waits without `next`'s future.
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            if super::has_work(&mut self.ready, self.ended) {
                return Poll::Ready(());
            }
            match self.ws.poll_next_unpin(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(item) => self.take(item),
            }
        }
    }

    async fn next(&mut self) -> Option<Inbound> {
        std::future::poll_fn(|cx| self.poll_ready(cx)).await;
        self.ready.pop_front()
    }
}

/// Writes a batch of messages as text frames in one buffer and one write.
struct WsWriter<W> {
    shared: Arc<Shared<W>>,
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

/// Longest frame header a server writes (no mask).
const HEADER_MAX: usize = 10;

impl<W: AsyncWrite + Unpin + Send> WsWriter<W> {
    /// Marks the socket busy and hands back the control bytes waiting for it, as the
    /// start of the next buffer (they go out first).
    fn claim(&self) -> Vec<u8> {
        let mut out = self.shared.out();
        out.busy = true;
        std::mem::take(&mut out.control)
    }

    /// Writes `buf` (control bytes first), then whatever control frames arrived meanwhile,
    /// and frees the socket.
    async fn send(&self, buf: Vec<u8>, progress: Progress<'_>) -> io::Result<()> {
        let mut res = self.shared.write_all(&buf, progress).await;
        drop(buf);
        loop {
            let control = {
                let mut out = self.shared.out();
                if res.is_err() || out.control.is_empty() {
                    out.busy = false;
                    return res;
                }
                std::mem::take(&mut out.control)
            };
            res = self.shared.write_all(&control, progress).await;
        }
    }
}

#[async_trait]
impl<W: AsyncWrite + Unpin + Send + 'static> MessageWriter for WsWriter<W> {
    async fn write(&mut self, batch: &[Bytes], progress: Progress<'_>) -> io::Result<()> {
        // One buffer per batch, sized up front and dropped after it: idle sessions keep none.
        let mut buf = self.claim();
        buf.reserve(batch.iter().map(|m| m.len() + HEADER_MAX).sum());
        for msg in batch {
            if let Err(e) = encode(msg, &mut buf) {
                self.shared.out().busy = false;
                return Err(e);
            }
        }
        self.send(buf, progress).await
    }

    async fn shutdown(&mut self) {
        let mut buf = self.claim();
        if !self.shared.peer_closed.load(Ordering::Relaxed) {
            let bye = Frame::close(Some(CloseFrame { code: CloseCode::Normal, reason: "".into() }));
            let _ = bye.format(&mut buf);
        }
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
            let _ = self.send(buf, &|| {}).await;
            let _ = std::future::poll_fn(|cx| Pin::new(&mut self.shared.out().wr).poll_shutdown(cx)).await;
        })
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::SinkExt;

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

    #[tokio::test]
    async fn a_ping_during_a_stalled_batch_is_answered_after_it_whole() {
        // A tiny pipe: the batch stalls until the client reads, while the ping comes in.
        let (client, server) = tokio::io::duplex(64);
        let (mut r, mut w) = halves(server, config(1 << 16)).await;
        let mut client = WebSocketStream::from_raw_socket(client, Role::Client, None).await;
        let big = Bytes::from(format!("{}\n", "x".repeat(10_000)));
        let writer = tokio::spawn(async move {
            w.write(&[big.clone(), big], &|| {}).await.unwrap();
            w
        });
        let reader = tokio::spawn(async move { r.next().await });
        client.send(Message::Ping("p".into())).await.unwrap();
        let mut got = Vec::new();
        while got.len() < 3 {
            got.push(client.next().await.unwrap().unwrap());
        }
        let texts = got.iter().filter(|m| **m == Message::text("x".repeat(10_000))).count();
        assert_eq!(texts, 2, "frames intact");
        assert!(got.contains(&Message::Pong("p".into())), "{:?}", got.iter().map(Message::len).collect::<Vec<_>>());
        let _w = writer.await.unwrap();
        reader.abort();
    }

    #[tokio::test]
    async fn pings_whose_pongs_are_never_read_end_the_session() {
        // A tiny pipe the client never reads: every pong waits in the control queue.
        let (client, server) = tokio::io::duplex(64);
        let (mut r, _w) = halves(server, config(1 << 16)).await;
        let reader = tokio::spawn(async move { r.next().await });
        let mut client = WebSocketStream::from_raw_socket(client, Role::Client, None).await;
        let ping = Message::Ping(vec![b'p'; 125].into());
        let mut sent = 0;
        while !reader.is_finished() && sent < 5_000 {
            // Once the server stopped reading, a send may wait for room forever.
            match tokio::time::timeout(Duration::from_secs(1), client.send(ping.clone())).await {
                Ok(Ok(())) => sent += 1,
                _ => break,
            }
        }
        let ended = tokio::time::timeout(Duration::from_secs(5), reader).await.expect("the session ends");
        assert_eq!(ended.unwrap(), None);
        assert!(sent < 1_000, "ended after {sent} pings");
    }
}
