//! WebSocket framing (RFC 6455, tungstenite) in front of the session: one text
//! frame in holds one message (or several, split on `\n` exactly as on the plain
//! port, protocol.md §2), and every outbound message is one text frame without its
//! trailing `\n`. A multi-line reply (`/help`) stays one frame with `\n`
//! between its lines. Binary frames are read like text frames (their bytes must
//! be UTF-8). Pings are answered by tungstenite while reading.

use super::{Inbound, MessageReader, MessageWriter, Progress};
use crate::framing::split_complete;
use async_trait::async_trait;
use bytes::Bytes;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use std::collections::VecDeque;
use std::io;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
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

/// The session halves of an established WebSocket.
pub fn halves<S>(ws: WebSocketStream<S>) -> (Box<dyn MessageReader>, Box<dyn MessageWriter>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (tx, rx) = ws.split();
    (Box::new(WsReader { rx, ready: VecDeque::new() }), Box::new(WsWriter { tx }))
}

/// Reads messages from WebSocket frames.
pub struct WsReader<S> {
    rx: SplitStream<WebSocketStream<S>>,
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
            match self.rx.next().await? {
                Ok(Message::Text(t)) => split_complete(t.as_bytes(), &mut self.ready),
                Ok(Message::Binary(b)) => split_complete(&b, &mut self.ready),
                Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => {}
                Ok(Message::Close(_)) => return None,
                Err(e) => {
                    tracing::debug!("WebSocket read ended: {e}");
                    return None;
                }
            }
        }
    }
}

/// Writes each message as one text frame; a batch is flushed once.
pub struct WsWriter<S> {
    tx: SplitSink<WebSocketStream<S>, Message>,
}

/// Copies the text: one small copy is cheaper than another clone and drop of the
/// shared buffer, whose reference count every recipient's writer touches.
fn frame(msg: &Bytes) -> io::Result<Message> {
    let text = msg.strip_suffix(b"\n").unwrap_or(msg);
    match std::str::from_utf8(text) {
        Ok(t) => Ok(Message::Text(Utf8Bytes::from(t))),
        Err(e) => Err(io::Error::new(io::ErrorKind::InvalidData, e)),
    }
}

#[async_trait]
impl<S: AsyncRead + AsyncWrite + Unpin + Send> MessageWriter for WsWriter<S> {
    async fn write(&mut self, batch: &[Bytes], progress: Progress<'_>) -> io::Result<()> {
        for msg in batch {
            self.tx.feed(frame(msg)?).await.map_err(io::Error::other)?;
        }
        self.tx.flush().await.map_err(io::Error::other)?;
        progress();
        Ok(())
    }

    async fn shutdown(&mut self) {
        let bye = Message::Close(Some(CloseFrame { code: CloseCode::Normal, reason: Utf8Bytes::from_static("") }));
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
            let _ = self.tx.send(bye).await;
            let _ = self.tx.close().await;
        })
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_drop_the_trailing_newline_only() {
        let m = frame(&Bytes::from_static(b"a\nb\n")).unwrap();
        assert_eq!(m, Message::Text("a\nb".into()));
        assert_eq!(frame(&Bytes::from_static(b"x")).unwrap(), Message::Text("x".into()));
    }
}
