//! One client connection: a buffered line reader and a shared writer, over plain
//! TCP, WebSocket (`GET /ws`, one text frame per line each way), TLS (lines inside
//! TLS) or the legacy encrypted port (one encrypted frame per line each way).

use crate::secure::{self, Keys};
use crate::wsraw;
use memchr::memchr;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::Mutex;
use tokio_rustls::client::TlsStream;

/// How long a setup step waits for its expected reply.
pub const EXPECT_TIMEOUT: Duration = Duration::from_secs(60);

/// Write side, shared by a sender task and the reader (for PONG replies).
pub type Writer = Arc<Mutex<Wr>>;

/// How a connection carries lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// Plain TCP.
    Tcp,
    /// WebSocket at `/ws` on the plain port.
    Ws,
    /// TLS (the TLS port).
    Tls,
    /// The legacy encrypted port.
    Legacy,
}

/// The write half of each transport.
pub enum Wr {
    /// Plain TCP: lines end with CRLF.
    Tcp(OwnedWriteHalf),
    /// WebSocket: one masked text frame per line.
    Ws(OwnedWriteHalf),
    /// TLS: lines end with CRLF.
    Tls(WriteHalf<TlsStream<TcpStream>>),
    /// Legacy encrypted port: one frame per line.
    Legacy(OwnedWriteHalf, Arc<Keys>),
}

enum Rd {
    Tcp(OwnedReadHalf),
    /// Raw bytes read so far (`raw[..len]`, at most a partial frame between calls).
    Ws {
        rd: OwnedReadHalf,
        raw: Vec<u8>,
        len: usize,
    },
    Tls(ReadHalf<TlsStream<TcpStream>>),
    /// Raw bytes read so far (`raw[..len]`, at most a partial frame between calls).
    Legacy {
        rd: OwnedReadHalf,
        keys: Arc<Keys>,
        raw: Vec<u8>,
        len: usize,
    },
}

/// A connected client: reads whole lines out of one growable buffer.
pub struct Conn {
    rd: Rd,
    /// The write half, shared.
    pub wr: Writer,
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl Conn {
    /// Connects; `rcvbuf` shrinks the kernel receive buffer (slow reader).
    /// With `Ws`, the connection is upgraded to a WebSocket at `/ws` first.
    pub async fn connect(addr: SocketAddr, buf_size: usize, rcvbuf: Option<u32>, t: Transport) -> io::Result<Conn> {
        Conn::connect_from(addr, None, buf_size, rcvbuf, t).await
    }

    /// [`Conn::connect`] from source address `from` (e.g. 127.0.0.2: another client IP on loopback).
    pub async fn connect_from(
        addr: SocketAddr,
        from: Option<IpAddr>,
        buf_size: usize,
        rcvbuf: Option<u32>,
        t: Transport,
    ) -> io::Result<Conn> {
        let sock = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
        if let Some(ip) = from {
            sock.bind(SocketAddr::new(ip, 0))?;
        }
        if let Some(n) = rcvbuf {
            sock.set_recv_buffer_size(n)?;
        }
        let stream = sock.connect(addr).await?;
        stream.set_nodelay(true)?;
        let (rd, wr) = match t {
            Transport::Ws => {
                let mut stream = stream;
                let mut raw = wsraw::upgrade(&mut stream, addr).await?;
                let len = raw.len();
                raw.resize(len.max(16 * 1024), 0);
                let (rd, wr) = stream.into_split();
                (Rd::Ws { rd, raw, len }, Wr::Ws(wr))
            }
            Transport::Tcp => {
                let (rd, wr) = stream.into_split();
                (Rd::Tcp(rd), Wr::Tcp(wr))
            }
            Transport::Tls => {
                let (rd, wr) = tokio::io::split(secure::tls(stream).await?);
                (Rd::Tls(rd), Wr::Tls(wr))
            }
            Transport::Legacy => {
                let mut stream = stream;
                let keys = Arc::new(secure::legacy(&mut stream).await?);
                let (rd, wr) = stream.into_split();
                (Rd::Legacy { rd, keys: keys.clone(), raw: vec![0; 16 * 1024], len: 0 }, Wr::Legacy(wr, keys))
            }
        };
        Ok(Conn { rd, wr: Arc::new(Mutex::new(wr)), buf: vec![0; buf_size.max(512)], start: 0, end: 0 })
    }

    /// Sends one line (CRLF added).
    pub async fn send_line(&self, line: &str) -> io::Result<()> {
        send_line(&self.wr, line).await
    }

    /// Reads more bytes into the buffer; `Ok(0)` means the peer closed.
    pub async fn fill(&mut self) -> io::Result<usize> {
        if self.start > 0 && self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        let Conn { rd, buf, start, end, .. } = self;
        let rd: &mut (dyn AsyncRead + Unpin + Send) = match rd {
            Rd::Tcp(rd) => rd,
            Rd::Tls(rd) => rd,
            Rd::Legacy { rd, keys, raw, len } => loop {
                let room = secure::frame_room(raw, *len).unwrap_or(0).max(*len + 16 * 1024);
                if raw.len() < room {
                    raw.resize(room, 0);
                }
                let got = rd.read(&mut raw[*len..]).await?;
                if got == 0 {
                    return Ok(0);
                }
                *len += got;
                let mut n = 0;
                secure::open_frames(keys, raw, len, |t| n += push_line(buf, start, end, t))?;
                if n > 0 {
                    return Ok(n);
                }
            },
            Rd::Ws { rd, raw, len } => {
                let mut first = true;
                loop {
                    // Frames already read (bytes that came with the upgrade answer) go first.
                    if !first || *len == 0 {
                        let room = wsraw::frame_room(raw, *len).unwrap_or(0).max(*len + 16 * 1024);
                        if raw.len() < room {
                            raw.resize(room, 0);
                        }
                        let got = rd.read(&mut raw[*len..]).await?;
                        if got == 0 {
                            return Ok(0);
                        }
                        *len += got;
                    }
                    first = false;
                    let mut n = 0;
                    let open = wsraw::take_frames(raw, len, |t| n += push_line(buf, start, end, t))?;
                    if n > 0 {
                        return Ok(n);
                    }
                    if !open {
                        return Ok(0);
                    }
                }
            }
        };
        if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else {
                let n = self.buf.len() * 2;
                self.buf.resize(n, 0);
            }
        }
        let n = rd.read(&mut self.buf[self.end..]).await?;
        self.end += n;
        Ok(n)
    }

    /// Takes the next complete line out of the buffer (without `\r\n`), if any.
    pub fn next_line(&mut self) -> Option<&[u8]> {
        let pos = memchr(b'\n', &self.buf[self.start..self.end])?;
        let s = self.start;
        self.start += pos + 1;
        let mut line = &self.buf[s..s + pos];
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        Some(line)
    }

    /// Reads lines until `want` accepts one (returns its verdict); answers PINGs on the way.
    pub async fn expect<T>(&mut self, mut want: impl FnMut(&str) -> Option<T>) -> io::Result<T> {
        let deadline = tokio::time::Instant::now() + EXPECT_TIMEOUT;
        let mut last = String::new();
        loop {
            while let Some(line) = self.next_line() {
                let text = String::from_utf8_lossy(line).into_owned();
                if let Some(tok) = text.strip_prefix("PING ") {
                    send_line(&self.wr, &format!("PONG {tok}")).await?;
                    continue;
                }
                if let Some(v) = want(&text) {
                    return Ok(v);
                }
                last = text;
            }
            match tokio::time::timeout_at(deadline, self.fill()).await {
                Err(_) => {
                    return Err(io::Error::new(io::ErrorKind::TimedOut, format!("timed out; last line: {last:?}")))
                }
                Ok(Ok(0)) => {
                    return Err(io::Error::new(io::ErrorKind::UnexpectedEof, format!("closed; last line: {last:?}")))
                }
                Ok(r) => {
                    r?;
                }
            }
        }
    }
}

/// Appends one WebSocket frame's text as a line to the buffer; returns the bytes added.
fn push_line(buf: &mut Vec<u8>, start: &mut usize, end: &mut usize, text: &[u8]) -> usize {
    if *start > 0 {
        buf.copy_within(*start..*end, 0);
        *end -= *start;
        *start = 0;
    }
    let need = *end + text.len() + 1;
    if need > buf.len() {
        buf.resize(need.next_power_of_two(), 0);
    }
    buf[*end..*end + text.len()].copy_from_slice(text);
    buf[*end + text.len()] = b'\n';
    *end = need;
    text.len() + 1
}

/// Writes one line (plus CRLF on TCP, as one text frame on WebSocket) under the writer lock.
pub async fn send_line(wr: &Writer, line: &str) -> io::Result<()> {
    match &mut *wr.lock().await {
        Wr::Tcp(w) => {
            let mut data = Vec::with_capacity(line.len() + 2);
            data.extend_from_slice(line.as_bytes());
            data.extend_from_slice(b"\r\n");
            w.write_all(&data).await
        }
        Wr::Ws(w) => {
            let mut data = Vec::with_capacity(line.len() + 14);
            wsraw::text_frame(line.as_bytes(), &mut data);
            w.write_all(&data).await
        }
        Wr::Tls(w) => {
            let mut data = Vec::with_capacity(line.len() + 2);
            data.extend_from_slice(line.as_bytes());
            data.extend_from_slice(b"\r\n");
            w.write_all(&data).await?;
            w.flush().await
        }
        Wr::Legacy(w, keys) => {
            let mut data = Vec::with_capacity(line.len() + 80);
            keys.seal(line.as_bytes(), &mut data);
            w.write_all(&data).await
        }
    }
}
