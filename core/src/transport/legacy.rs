//! The legacy encrypted port of the official GUI client (protocol.md §6).
//!
//! Unauthenticated Diffie-Hellman over the 768-bit RFC 2409 group 1, then
//! frames of `len || IV || AES-256-CBC(PKCS#7) || HMAC-SHA-256(IV || ct)`.
//! It only exists for deployed clients: anyone on the path can break or
//! intercept it. TLS ([`super::tls`]) is the transport to recommend.

use super::{write_tracked, Inbound, MessageReader, MessageWriter, Progress};
use crate::framing::{split_complete, MAX_MESSAGE};
use aes::{Aes256, Aes256Enc};
use async_trait::async_trait;
use bytes::Bytes;
use cbc::cipher::{block_padding::Pkcs7, BlockDecryptMut, BlockEncryptMut, InnerIvInit, KeyIvInit};
use hmac::{Hmac, Mac};
use num_bigint::{BigUint, RandBigInt};
use once_cell::sync::Lazy;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::time::Instant;

type HmacSha256 = Hmac<Sha256>;

/// RFC 2409 section 6.1, "First Oakley Group": the client hard-codes it.
const PRIME_HEX: &str = concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD1",
    "29024E088A67CC74020BBEA63B139B22514A08798E3404DD",
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245",
    "E485B576625E7EC6F44C42E9A63A3620FFFFFFFFFFFFFFFF",
);

static PRIME: Lazy<BigUint> =
    Lazy::new(|| BigUint::parse_bytes(PRIME_HEX.as_bytes(), 16).expect("the RFC 2409 prime is valid hex"));

/// Bits of the server's secret exponent (protocol.md §6 asks for at least 256).
const SECRET_BITS: u64 = 256;
/// Longest encoding of the client's public value we read; p itself is 96 bytes.
const MAX_PUBLIC_LEN: usize = 512;
const IV_LEN: usize = 16;
const TAG_LEN: usize = 32;
const BLOCK: usize = 16;
/// Smallest frame: IV, one cipher block (padding only), tag.
const MIN_FRAME: usize = IV_LEN + BLOCK + TAG_LEN;
/// Largest frame: room for one maximal message plus its `\r\n` and padding.
const MAX_FRAME: usize = IV_LEN + (MAX_MESSAGE / BLOCK + 2) * BLOCK + TAG_LEN;

/// The two session keys of protocol.md §6 step 3.
#[derive(Clone)]
struct Keys {
    enc: [u8; 32],
    mac: [u8; 32],
}

impl Keys {
    /// `S` is the shared secret as big-endian bytes without leading zeros.
    fn derive(shared: &[u8]) -> Self {
        let hash = |label: &[u8]| -> [u8; 32] {
            let mut h = Sha256::new();
            h.update(shared);
            h.update(label);
            h.finalize().into()
        };
        Self { enc: hash(b"|KEY"), mac: hash(b"|MAC") }
    }

    fn mac(&self) -> HmacSha256 {
        HmacSha256::new_from_slice(&self.mac).expect("HMAC takes keys of any length")
    }
}

/// Why a connection on this port was closed.
#[derive(Debug)]
enum Close {
    Truncated,
    Slow,
    BadLength(usize),
    BadMac,
    BadPadding,
    Io(io::Error),
}

impl fmt::Display for Close {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Close::Truncated => write!(f, "connection ended inside a frame"),
            Close::Slow => write!(f, "frame not completed in time"),
            Close::BadLength(n) => write!(f, "bad frame length {n}"),
            Close::BadMac => write!(f, "bad HMAC"),
            Close::BadPadding => write!(f, "bad padding"),
            Close::Io(e) => write!(f, "read error: {e}"),
        }
    }
}

/// Runs the server side of the key exchange, then hands back the framed
/// session halves. Fails on a bad public value or after `timeout` (the
/// caller logs it); bad frames later are logged here and end the reader.
pub async fn handshake(
    mut stream: TcpStream,
    timeout: Duration,
) -> io::Result<(Box<dyn MessageReader>, Box<dyn MessageWriter>)> {
    let peer = peer_name(&stream);
    let keys = super::handshake_within("legacy encrypted", &peer, timeout, exchange(&mut stream)).await?;
    let (rd, wr) = stream.into_split();
    let reader = LegacyReader {
        rd,
        keys: keys.clone(),
        peer,
        frame_time: timeout,
        ready: VecDeque::new(),
        head: [0; 4],
        head_len: 0,
        body: Vec::new(),
        body_len: 0,
        started: None,
        closed: false,
    };
    Ok((Box::new(reader), Box::new(LegacyWriter { wr, sealer: Sealer::new(&keys) })))
}

/// Sends A, reads B, checks it and derives the keys.
async fn exchange(stream: &mut TcpStream) -> io::Result<Keys> {
    // Modular exponentiation takes a noticeable fraction of a millisecond:
    // keep it off the async worker threads.
    let (secret, public) = tokio::task::spawn_blocking(|| {
        let mut secret = rand::rngs::OsRng.gen_biguint(SECRET_BITS);
        secret.set_bit(SECRET_BITS - 1, true);
        let public = BigUint::from(2u32).modpow(&secret, &PRIME);
        (secret, public)
    })
    .await
    .map_err(io::Error::other)?;

    stream.write_all(&encode_public(&public)).await?;

    let mut len = [0u8; 2];
    stream.read_exact(&mut len).await?;
    let len = usize::from(u16::from_be_bytes(len));
    if len == 0 || len > MAX_PUBLIC_LEN {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("peer public value has bad length {len}")));
    }
    let mut raw = vec![0u8; len];
    stream.read_exact(&mut raw).await?;
    let theirs = BigUint::from_bytes_be(&raw);
    if !public_in_range(&theirs) {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "peer public value outside 2..p-2"));
    }
    let shared = tokio::task::spawn_blocking(move || theirs.modpow(&secret, &PRIME)).await.map_err(io::Error::other)?;
    Ok(Keys::derive(&shared.to_bytes_be()))
}

/// The peer address for log lines.
fn peer_name(stream: &TcpStream) -> String {
    stream.peer_addr().map_or_else(|_| "unknown".into(), |a| a.to_string())
}

/// 2-byte big-endian length, then the value's big-endian bytes without leading zeros.
fn encode_public(value: &BigUint) -> Vec<u8> {
    let bytes = value.to_bytes_be();
    let mut out = Vec::with_capacity(2 + bytes.len());
    // A value below p is at most 96 bytes, so the length always fits.
    out.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
    out.extend_from_slice(&bytes);
    out
}

/// 1, p-1 and anything outside the group would force a guessable secret.
fn public_in_range(value: &BigUint) -> bool {
    let two = BigUint::from(2u32);
    *value >= two && *value <= &*PRIME - &two
}

/// What the writer keeps per session: the keyed HMAC state (152 bytes), so a frame
/// does not hash the HMAC key again. The expanded AES key (960 bytes) is made once
/// per batch instead and not kept: idle sessions stay small.
struct Sealer {
    enc: [u8; 32],
    mac: HmacSha256,
}

impl Sealer {
    fn new(keys: &Keys) -> Self {
        Self { enc: keys.enc, mac: keys.mac() }
    }

    /// The expanded AES key for one batch.
    fn cipher(&self) -> Aes256Enc {
        <Aes256Enc as cbc::cipher::KeyInit>::new(&self.enc.into())
    }

    /// One buffer holding a frame per message (each without its trailing `\n`).
    fn seal_batch(&self, batch: &[Bytes]) -> Vec<u8> {
        let aes = self.cipher();
        let total: usize = batch.iter().map(|m| 4 + IV_LEN + m.len() + BLOCK + TAG_LEN).sum();
        let mut out = Vec::with_capacity(total);
        for msg in batch {
            self.seal(&aes, msg.strip_suffix(b"\n").unwrap_or(msg), &mut out);
        }
        out
    }

    /// Appends one whole frame (length prefix included) carrying `text`, encrypted
    /// in place in `out` (no allocation per frame).
    fn seal(&self, aes: &Aes256Enc, text: &[u8], out: &mut Vec<u8>) {
        let ct_len = (text.len() / BLOCK + 1) * BLOCK;
        let start = out.len();
        out.extend_from_slice(&((IV_LEN + ct_len + TAG_LEN) as u32).to_be_bytes());
        let mut iv = [0u8; IV_LEN];
        rand::thread_rng().fill_bytes(&mut iv);
        out.extend_from_slice(&iv);
        let ct_at = out.len();
        out.extend_from_slice(text);
        out.resize(ct_at + ct_len, 0);
        cbc::Encryptor::<&Aes256Enc>::inner_iv_init(aes, &iv.into())
            .encrypt_padded_mut::<Pkcs7>(&mut out[ct_at..], text.len())
            .expect("room for the padding was made above");
        let mut mac = self.mac.clone();
        mac.update(&out[start + 4..]);
        out.extend_from_slice(&mac.finalize().into_bytes());
    }
}

/// Checks the tag (in constant time) before touching the ciphertext.
fn open(keys: &Keys, body: &[u8]) -> Result<Vec<u8>, Close> {
    if !frame_len_ok(body.len()) {
        return Err(Close::BadLength(body.len()));
    }
    let (data, tag) = body.split_at(body.len() - TAG_LEN);
    let mut mac = keys.mac();
    mac.update(data);
    mac.verify_slice(tag).map_err(|_| Close::BadMac)?;
    let (iv, ct) = data.split_at(IV_LEN);
    cbc::Decryptor::<Aes256>::new_from_slices(&keys.enc, iv)
        .map_err(|_| Close::BadLength(body.len()))?
        .decrypt_padded_vec_mut::<Pkcs7>(ct)
        .map_err(|_| Close::BadPadding)
}

fn frame_len_ok(len: usize) -> bool {
    (MIN_FRAME..=MAX_FRAME).contains(&len) && (len - IV_LEN - TAG_LEN).is_multiple_of(BLOCK)
}

/// Reads frames; keeps partial-frame state in itself so `next` may be cancelled.
struct LegacyReader {
    rd: OwnedReadHalf,
    keys: Keys,
    peer: String,
    /// How long the rest of a frame may take once its first byte arrived.
    frame_time: Duration,
    ready: VecDeque<Inbound>,
    head: [u8; 4],
    head_len: usize,
    body: Vec<u8>,
    body_len: usize,
    started: Option<Instant>,
    closed: bool,
}

impl LegacyReader {
    /// The next frame's body, `Ok(None)` on a clean end between frames.
    async fn read_frame(&mut self) -> Result<Option<Vec<u8>>, Close> {
        while self.head_len < 4 {
            let deadline = self.started.map(|t| t + self.frame_time);
            let n = read_some(&mut self.rd, &mut self.head[self.head_len..], deadline).await?;
            if n == 0 {
                return if self.head_len == 0 { Ok(None) } else { Err(Close::Truncated) };
            }
            self.started.get_or_insert_with(Instant::now);
            self.head_len += n;
            if self.head_len == 4 {
                let len = u32::from_be_bytes(self.head) as usize;
                if !frame_len_ok(len) {
                    return Err(Close::BadLength(len));
                }
                self.body = vec![0; len];
                self.body_len = 0;
            }
        }
        while self.body_len < self.body.len() {
            let deadline = self.started.map(|t| t + self.frame_time);
            let n = read_some(&mut self.rd, &mut self.body[self.body_len..], deadline).await?;
            if n == 0 {
                return Err(Close::Truncated);
            }
            self.body_len += n;
        }
        self.head_len = 0;
        self.started = None;
        Ok(Some(std::mem::take(&mut self.body)))
    }
}

async fn read_some(rd: &mut OwnedReadHalf, buf: &mut [u8], deadline: Option<Instant>) -> Result<usize, Close> {
    let read = match deadline {
        Some(at) => tokio::time::timeout_at(at, rd.read(buf)).await.map_err(|_| Close::Slow)?,
        None => rd.read(buf).await,
    };
    read.map_err(Close::Io)
}

#[async_trait]
impl MessageReader for LegacyReader {
    /// Ready once a frame has begun (or the connection ended): an idle session waits
    /// here without `next`'s future.
    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        use std::task::Poll;
        loop {
            if super::has_work(&mut self.ready, self.closed || self.head_len > 0) {
                return Poll::Ready(());
            }
            if self.rd.as_ref().poll_read_ready(cx).is_pending() {
                return Poll::Pending;
            }
            // Readiness only clears on a read that would block. At most three bytes of
            // the length, so `read_frame` still sees the length complete and checks it.
            match self.rd.try_read(&mut self.head[..3]) {
                Ok(n) if n > 0 => {
                    self.head_len = n;
                    self.started = Some(Instant::now());
                    return Poll::Ready(());
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // The end or an error: `next` reads it again and ends.
                _ => return Poll::Ready(()),
            }
        }
    }

    async fn next(&mut self) -> Option<Inbound> {
        loop {
            if let Some(out) = super::ready_or_end(&mut self.ready, self.closed) {
                return out;
            }
            let opened = match self.read_frame().await {
                Ok(Some(body)) => open(&self.keys, &body),
                Ok(None) => {
                    self.closed = true;
                    continue;
                }
                Err(why) => Err(why),
            };
            match opened {
                Ok(text) => split_complete(&text, &mut self.ready),
                Err(why) => {
                    tracing::warn!(peer = %self.peer, reason = %why, "legacy encrypted connection closed");
                    self.closed = true;
                }
            }
        }
    }
}

/// Writes each message as one frame (the client shows one frame as one message,
/// protocol.md §6); a batch goes out in one buffer and one write call.
struct LegacyWriter {
    wr: OwnedWriteHalf,
    sealer: Sealer,
}

#[async_trait]
impl MessageWriter for LegacyWriter {
    async fn write(&mut self, batch: &[Bytes], progress: Progress<'_>) -> io::Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        // Per-batch buffer, dropped after the write: idle sessions keep none.
        let out = self.sealer.seal_batch(batch);
        write_tracked(&mut self.wr, &out, progress).await
    }

    async fn shutdown(&mut self) {
        let _ = self.wr.shutdown().await;
    }
}

#[cfg(test)]
mod tests {
    //! The client side here is written from protocol.md §6 alone: it shares no code
    //! with the server half above.
    use super::*;
    use std::net::SocketAddr;
    use tokio::net::TcpListener;
    use tokio::task::JoinHandle;

    type Halves = (Box<dyn MessageReader>, Box<dyn MessageWriter>);

    fn wire_prime() -> BigUint {
        let hex = "FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1 29024E08 8A67CC74 \
                   020BBEA6 3B139B22 514A0879 8E3404DD EF9519B3 CD3A431B 302B0A6D F25F1437 \
                   4FE1356D 6D51C245 E485B576 625E7EC6 F44C42E9 A63A3620 FFFFFFFF FFFFFFFF";
        let hex: String = hex.chars().filter(|c| !c.is_whitespace()).collect();
        BigUint::parse_bytes(hex.as_bytes(), 16).unwrap()
    }

    /// A client that speaks protocol.md §6 by hand.
    struct Client {
        s: TcpStream,
        enc: [u8; 32],
        mac: [u8; 32],
    }

    impl Client {
        /// Reads A, answers with `b_value(p, own public)` and derives the keys.
        async fn connect_with(addr: SocketAddr, pick: impl FnOnce(&BigUint, BigUint) -> BigUint) -> Client {
            let p = wire_prime();
            let mut s = TcpStream::connect(addr).await.unwrap();
            let mut len = [0u8; 2];
            s.read_exact(&mut len).await.unwrap();
            let mut a_raw = vec![0u8; u16::from_be_bytes(len) as usize];
            s.read_exact(&mut a_raw).await.unwrap();
            assert_ne!(a_raw[0], 0, "A must have no leading zero bytes");
            let a_pub = BigUint::from_bytes_be(&a_raw);
            assert!(a_pub > BigUint::from(1u32) && a_pub < &p - 1u32);
            let b = rand::rngs::OsRng.gen_biguint(256);
            let b_pub = pick(&p, BigUint::from(2u32).modpow(&b, &p));
            let b_raw = b_pub.to_bytes_be();
            let mut hello = (b_raw.len() as u16).to_be_bytes().to_vec();
            hello.extend_from_slice(&b_raw);
            s.write_all(&hello).await.unwrap();
            let shared = a_pub.modpow(&b, &p).to_bytes_be();
            let enc: [u8; 32] = Sha256::digest([&shared[..], b"|KEY"].concat()).into();
            let mac: [u8; 32] = Sha256::digest([&shared[..], b"|MAC"].concat()).into();
            Client { s, enc, mac }
        }

        async fn connect(addr: SocketAddr) -> Client {
            Self::connect_with(addr, |_, own| own).await
        }

        fn tag(&self, data: &[u8]) -> Vec<u8> {
            let mut m = HmacSha256::new_from_slice(&self.mac).unwrap();
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }

        /// IV || ciphertext || tag, without the length prefix.
        fn body(&self, text: &str) -> Vec<u8> {
            let iv = [7u8; 16];
            let ct = cbc::Encryptor::<Aes256>::new(&self.enc.into(), &iv.into())
                .encrypt_padded_vec_mut::<Pkcs7>(text.as_bytes());
            let data = [&iv[..], &ct].concat();
            [data.clone(), self.tag(&data)].concat()
        }

        async fn send_body(&mut self, body: &[u8]) {
            let mut frame = (body.len() as u32).to_be_bytes().to_vec();
            frame.extend_from_slice(body);
            self.s.write_all(&frame).await.unwrap();
        }

        async fn send(&mut self, text: &str) {
            let body = self.body(text);
            self.send_body(&body).await;
        }

        async fn recv(&mut self) -> String {
            let mut len = [0u8; 4];
            self.s.read_exact(&mut len).await.unwrap();
            let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
            self.s.read_exact(&mut body).await.unwrap();
            let (data, tag) = body.split_at(body.len() - 32);
            assert_eq!(self.tag(data), tag, "server frame tag");
            let (iv, ct) = data.split_at(16);
            let plain = cbc::Decryptor::<Aes256>::new_from_slices(&self.enc, iv)
                .unwrap()
                .decrypt_padded_vec_mut::<Pkcs7>(ct)
                .unwrap();
            String::from_utf8(plain).unwrap()
        }
    }

    async fn serve(timeout: Duration) -> (SocketAddr, JoinHandle<io::Result<Halves>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let (s, _) = listener.accept().await.unwrap();
            handshake(s, timeout).await
        });
        (addr, task)
    }

    /// A client connected and through the handshake, and the server's halves.
    async fn connected(timeout: Duration) -> (Client, Box<dyn MessageReader>, Box<dyn MessageWriter>) {
        let (addr, task) = serve(timeout).await;
        let c = Client::connect(addr).await;
        let (r, w) = task.await.unwrap().unwrap();
        (c, r, w)
    }

    fn msg(s: &str) -> Inbound {
        Inbound::Message(s.to_owned())
    }

    async fn next_within(r: &mut Box<dyn MessageReader>) -> Option<Inbound> {
        tokio::time::timeout(Duration::from_secs(5), r.next()).await.expect("reader stalled")
    }

    #[test]
    fn prime_is_the_768_bit_group_of_wire() {
        assert_eq!(*PRIME, wire_prime());
        assert_eq!(PRIME.bits(), 768);
    }

    #[test]
    fn keys_are_sha256_of_secret_and_label() {
        let k = Keys::derive(&[1, 2, 3]);
        assert_eq!(k.enc[..], Sha256::digest(b"\x01\x02\x03|KEY")[..]);
        assert_eq!(k.mac[..], Sha256::digest(b"\x01\x02\x03|MAC")[..]);
    }

    #[tokio::test]
    async fn frames_carry_plain_protocol_both_ways() {
        let (mut c, mut r, mut w) = connected(Duration::from_secs(5)).await;

        w.write(&[crate::hub::line(crate::replies::GREETING)], &|| {}).await.unwrap();
        assert_eq!(c.recv().await, crate::replies::GREETING);

        c.send("/login alice pw").await;
        c.send("one\r\ntwo\n\nthree").await;
        c.send("caf\u{e9}").await;
        assert_eq!(next_within(&mut r).await, Some(msg("/login alice pw")));
        assert_eq!(next_within(&mut r).await, Some(msg("one")));
        assert_eq!(next_within(&mut r).await, Some(msg("two")));
        assert_eq!(next_within(&mut r).await, Some(msg("three")));
        assert_eq!(next_within(&mut r).await, Some(msg("caf\u{e9}")));

        // A batch: one frame per message, inner newlines kept.
        w.write(&[Bytes::from_static(b"x\n"), Bytes::from_static(b"/a - b\n/c - d\n")], &|| {}).await.unwrap();
        assert_eq!(c.recv().await, "x");
        assert_eq!(c.recv().await, "/a - b\n/c - d");

        c.s.shutdown().await.unwrap();
        assert_eq!(next_within(&mut r).await, None);
    }

    #[tokio::test]
    async fn largest_message_fits_and_longer_line_is_reported() {
        let (mut c, mut r, _w) = connected(Duration::from_secs(5)).await;
        let max = "a".repeat(MAX_MESSAGE);
        c.send(&format!("{max}\r\n")).await;
        assert_eq!(next_within(&mut r).await, Some(Inbound::Message(max.clone())));
        c.send(&format!("{max}b")).await;
        assert_eq!(next_within(&mut r).await, Some(Inbound::TooLong));
        c.send("ok").await;
        assert_eq!(next_within(&mut r).await, Some(msg("ok")));
    }

    async fn closes_after(body: impl FnOnce(&Client) -> Vec<u8>) {
        let (mut c, mut r, _w) = connected(Duration::from_secs(5)).await;
        c.send("before").await;
        assert_eq!(next_within(&mut r).await, Some(msg("before")));
        let bad = body(&c);
        c.send_body(&bad).await;
        c.send("after").await;
        assert_eq!(next_within(&mut r).await, None);
        assert_eq!(next_within(&mut r).await, None);
    }

    #[tokio::test]
    async fn flipped_tag_byte_closes() {
        closes_after(|c| {
            let mut b = c.body("/join_server general");
            let last = b.len() - 1;
            b[last] ^= 1;
            b
        })
        .await;
    }

    #[tokio::test]
    async fn flipped_ciphertext_byte_closes() {
        closes_after(|c| {
            let mut b = c.body("/join_server general");
            b[17] ^= 0x01; // a message byte, not the padding
            b
        })
        .await;
    }

    #[tokio::test]
    async fn bad_padding_under_a_good_tag_closes() {
        closes_after(|c| {
            // One block whose last byte (0) is no valid PKCS#7 padding.
            let iv = [1u8; 16];
            let mut block = *b"hello world....\0";
            let ct = cbc::Encryptor::<Aes256>::new(&c.enc.into(), &iv.into())
                .encrypt_padded_mut::<cbc::cipher::block_padding::NoPadding>(&mut block, 16)
                .unwrap()
                .to_vec();
            let data = [&iv[..], &ct].concat();
            [data.clone(), c.tag(&data)].concat()
        })
        .await;
    }

    #[tokio::test]
    async fn ragged_ciphertext_closes() {
        closes_after(|c| {
            let mut b = c.body("x");
            b.insert(20, 0);
            b
        })
        .await;
    }

    #[tokio::test]
    async fn oversized_length_closes_without_waiting_for_the_body() {
        let (mut c, mut r, _w) = connected(Duration::from_secs(5)).await;
        c.s.write_all(&((MAX_FRAME + BLOCK) as u32).to_be_bytes()).await.unwrap();
        assert_eq!(next_within(&mut r).await, None);
    }

    #[tokio::test]
    async fn truncated_frame_closes() {
        let (mut c, mut r, _w) = connected(Duration::from_secs(5)).await;
        let body = c.body("/members");
        let mut frame = (body.len() as u32).to_be_bytes().to_vec();
        frame.extend_from_slice(&body[..body.len() / 2]);
        c.s.write_all(&frame).await.unwrap();
        c.s.shutdown().await.unwrap();
        assert_eq!(next_within(&mut r).await, None);
    }

    /// Waits as an idle session does (ready first), then reads.
    async fn next_after_ready(r: &mut Box<dyn MessageReader>) -> Option<Inbound> {
        tokio::time::timeout(Duration::from_secs(5), std::future::poll_fn(|cx| r.poll_ready(cx)))
            .await
            .expect("never ready");
        next_within(r).await
    }

    #[tokio::test]
    async fn an_idle_reader_wakes_for_a_frame_and_still_checks_its_length() {
        let (mut c, mut r, _w) = connected(Duration::from_secs(5)).await;
        let now = std::future::poll_fn(|cx| std::task::Poll::Ready(r.poll_ready(cx).is_ready())).await;
        assert!(!now, "nothing sent yet");
        c.send("/ping").await;
        assert_eq!(next_after_ready(&mut r).await, Some(msg("/ping")));
        c.send("one\ntwo").await;
        assert_eq!(next_after_ready(&mut r).await, Some(msg("one")));
        assert_eq!(next_after_ready(&mut r).await, Some(msg("two")));
        c.s.write_all(&((MAX_FRAME + BLOCK) as u32).to_be_bytes()).await.unwrap();
        assert_eq!(next_after_ready(&mut r).await, None);
    }

    #[tokio::test]
    async fn frame_that_stalls_midway_is_dropped() {
        // Read by `next` directly, and begun from the idle state (`poll_ready`).
        for from_idle in [false, true] {
            let (mut c, mut r, _w) = connected(Duration::from_millis(200)).await;
            c.s.write_all(&[0, 0]).await.unwrap();
            let t = std::time::Instant::now();
            let got = if from_idle { next_after_ready(&mut r).await } else { next_within(&mut r).await };
            assert_eq!(got, None);
            assert!(t.elapsed() < Duration::from_secs(2));
        }
    }

    #[tokio::test]
    async fn out_of_range_public_values_are_refused() {
        let cases: [fn(&BigUint) -> BigUint; 5] =
            [|_| BigUint::from(0u32), |_| BigUint::from(1u32), |p| p - 1u32, |p| p.clone(), |p| p + 5u32];
        for case in cases {
            let (addr, task) = serve(Duration::from_secs(5)).await;
            let _c = Client::connect_with(addr, |p, _| case(p)).await;
            let err = task.await.unwrap().err().expect("handshake must fail");
            assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        }
        // The edges of the valid range are accepted.
        for case in [|_: &BigUint| BigUint::from(2u32), |p: &BigUint| p - 2u32] {
            let (addr, task) = serve(Duration::from_secs(5)).await;
            let _c = Client::connect_with(addr, |p, _| case(p)).await;
            assert!(task.await.unwrap().is_ok());
        }
    }

    #[tokio::test]
    async fn zero_length_public_value_is_refused() {
        let (addr, task) = serve(Duration::from_secs(5)).await;
        let mut s = TcpStream::connect(addr).await.unwrap();
        let mut len = [0u8; 2];
        s.read_exact(&mut len).await.unwrap();
        let mut a = vec![0u8; u16::from_be_bytes(len) as usize];
        s.read_exact(&mut a).await.unwrap();
        s.write_all(&[0, 0]).await.unwrap();
        assert_eq!(task.await.unwrap().err().unwrap().kind(), io::ErrorKind::InvalidData);
    }

    #[tokio::test]
    async fn silent_client_is_dropped_after_the_timeout() {
        let (addr, task) = serve(Duration::from_millis(150)).await;
        let mut s = TcpStream::connect(addr).await.unwrap();
        let t = std::time::Instant::now();
        let err = task.await.unwrap().err().expect("handshake must time out");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(t.elapsed() < Duration::from_secs(2));
        // The server side is gone: after A, the client reads end of stream.
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest).await;
        let a_len = u16::from_be_bytes([rest[0], rest[1]]) as usize;
        assert_eq!(rest.len(), 2 + a_len);
    }
}

#[cfg(test)]
mod prop;
