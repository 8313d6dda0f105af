//! The legacy encrypted port (docs/protocol.md §6), spoken by a client written from the
//! spec alone: it shares no code with the server.

use aes::Aes256;
use cbc::cipher::{block_padding::Pkcs7, BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use dmconnect_e2e::lines::{chat_with_plain_user, LineClient};
use dmconnect_e2e::{Client, TestServer, GREETING};
use hmac::{Hmac, Mac};
use num_bigint::{BigUint, RandBigInt};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

type HmacSha256 = Hmac<Sha256>;

const WAIT: Duration = Duration::from_secs(5);

/// RFC 2409 section 6.1 (the group docs/protocol.md §6 names).
fn prime() -> BigUint {
    let hex = "FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1 29024E08 8A67CC74 \
               020BBEA6 3B139B22 514A0879 8E3404DD EF9519B3 CD3A431B 302B0A6D F25F1437 \
               4FE1356D 6D51C245 E485B576 625E7EC6 F44C42E9 A63A3620 FFFFFFFF FFFFFFFF";
    let hex: String = hex.split_whitespace().collect();
    BigUint::parse_bytes(hex.as_bytes(), 16).unwrap()
}

/// 2-byte big-endian length, then the big-endian bytes.
fn public_bytes(value: &BigUint) -> Vec<u8> {
    let raw = value.to_bytes_be();
    let mut out = (raw.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(&raw);
    out
}

/// Connects and reads the server's A, checking its encoding.
async fn connect_and_read_a(addr: SocketAddr) -> (TcpStream, BigUint) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut len = [0u8; 2];
    tokio::time::timeout(WAIT, s.read_exact(&mut len)).await.unwrap().unwrap();
    let mut raw = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut raw).await.unwrap();
    assert_ne!(raw[0], 0, "A is sent without leading zero bytes");
    let a = BigUint::from_bytes_be(&raw);
    assert!(a >= BigUint::from(2u32) && a <= prime() - 2u32, "A is in 2..p-2");
    (s, a)
}

/// Reads until the server closes; panics if it sends a frame or stays open.
async fn assert_closed(s: &mut TcpStream) {
    let mut buf = [0u8; 64];
    match tokio::time::timeout(WAIT, s.read(&mut buf)).await {
        Err(_) => panic!("the server kept the connection open"),
        Ok(Ok(0)) | Ok(Err(_)) => {}
        Ok(Ok(n)) => panic!("expected the connection to close, got {n} bytes"),
    }
}

/// A logged-out client on the encrypted port, after the key exchange.
struct EncClient {
    s: TcpStream,
    enc: [u8; 32],
    mac: [u8; 32],
    lines: VecDeque<String>,
}

impl EncClient {
    async fn connect(addr: SocketAddr) -> Self {
        let p = prime();
        let (mut s, a_pub) = connect_and_read_a(addr).await;
        let b = rand::rngs::OsRng.gen_biguint(256);
        s.write_all(&public_bytes(&BigUint::from(2u32).modpow(&b, &p))).await.unwrap();
        let shared = a_pub.modpow(&b, &p).to_bytes_be();
        let key = |label: &[u8]| -> [u8; 32] { Sha256::digest([&shared[..], label].concat()).into() };
        Self { s, enc: key(b"|KEY"), mac: key(b"|MAC"), lines: VecDeque::new() }
    }

    fn tag(&self, data: &[u8]) -> Vec<u8> {
        let mut m = HmacSha256::new_from_slice(&self.mac).unwrap();
        m.update(data);
        m.finalize().into_bytes().to_vec()
    }

    /// A whole frame, length prefix included.
    fn frame(&self, text: &str) -> Vec<u8> {
        let mut iv = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut iv);
        let ct = cbc::Encryptor::<Aes256>::new(&self.enc.into(), &iv.into())
            .encrypt_padded_vec_mut::<Pkcs7>(text.as_bytes());
        let body = [&iv[..], &ct].concat();
        let tag = self.tag(&body);
        let len = (body.len() + tag.len()) as u32;
        [&len.to_be_bytes()[..], &body, &tag].concat()
    }

    async fn send(&mut self, text: &str) {
        self.send_line(text).await;
    }

    /// The next whole frame's text; checks its tag and padding.
    async fn recv_frame(&mut self) -> String {
        let mut len = [0u8; 4];
        tokio::time::timeout(WAIT, self.s.read_exact(&mut len))
            .await
            .expect("no frame within 5 s")
            .expect("connection closed");
        let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
        self.s.read_exact(&mut body).await.unwrap();
        let (data, tag) = body.split_at(body.len() - 32);
        assert_eq!(self.tag(data), tag, "server frame HMAC");
        let (iv, ct) = data.split_at(16);
        let plain = cbc::Decryptor::<Aes256>::new_from_slices(&self.enc, iv)
            .unwrap()
            .decrypt_padded_vec_mut::<Pkcs7>(ct)
            .expect("server frame padding");
        let text = String::from_utf8(plain).unwrap();
        assert!(!text.ends_with('\n'), "frames carry no trailing newline: {text:?}");
        text
    }

    async fn expect(&mut self, line: &str) {
        self.expect_line(line).await;
    }

    /// Registers and logs in; the login reply must start its own frame.
    async fn login_new(addr: SocketAddr, name: &str) -> Self {
        let mut c = Self::connect(addr).await;
        c.register(name).await;
        assert!(c.lines.is_empty());
        c.send(&format!("/login {name} pw")).await;
        let frame = c.recv_frame().await;
        assert!(frame.starts_with("Login successful."), "GUI client needs this at a frame start: {frame:?}");
        c.lines.extend(frame.split('\n').map(str::to_owned));
        c.expect("Login successful.").await;
        c.expect("Available servers: general").await;
        c.expect("Select a server using /join_server <server_name>.").await;
        c
    }
}

impl LineClient for EncClient {
    /// One command per frame, one write per frame.
    async fn send_line(&mut self, text: &str) {
        let frame = self.frame(text);
        self.s.write_all(&frame).await.unwrap();
    }

    /// The next line, whether or not the server put several in one frame.
    async fn next_line(&mut self) -> String {
        while self.lines.is_empty() {
            let frame = self.recv_frame().await;
            self.lines.extend(frame.split('\n').map(str::to_owned));
        }
        self.lines.pop_front().unwrap()
    }
}

async fn start() -> TestServer {
    TestServer::builder().encrypted(true).server_key("handshake_timeout_ms", "500").start().await
}

#[tokio::test]
async fn encrypted_and_plain_users_chat_in_one_room() {
    let mut srv = start().await;
    let addr = srv.encrypted_addr().expect("encrypted port");
    let mut alice = EncClient::login_new(addr, "alice").await;
    alice.join_general("alice").await;
    let mut bob = chat_with_plain_user(&mut alice, "alice", srv.addr()).await;

    // A frame holding several lines is several messages, never one with a newline inside.
    alice.send("first\nsecond").await;
    alice.expect("alice: first").await;
    alice.expect("alice: second").await;
    bob.expect("alice: first").await;
    bob.expect("alice: second").await;

    // Keep-alive over the encrypted port.
    alice.send("/").await;
    assert_eq!(alice.recv_frame().await, "*Ping*");

    alice.send("/members").await;
    alice.expect("Members in 'general': alice, bob").await;
    srv.stop().await;
}

#[tokio::test]
async fn tampered_frames_close_only_that_connection() {
    let mut srv = start().await;
    let addr = srv.encrypted_addr().expect("encrypted port");
    let mut bob = Client::login_new(srv.addr(), "bob", "pw").await;
    bob.join("general").await;

    let mut alice = EncClient::login_new(addr, "alice").await;
    alice.join_general("alice").await;
    bob.expect("*** alice has joined the server.").await;

    let mut frame = alice.frame("forged");
    let last = frame.len() - 1;
    frame[last] ^= 0x01;
    alice.s.write_all(&frame).await.unwrap();
    assert_closed(&mut alice.s).await;
    srv.wait_for_log("bad HMAC").await;

    // Nothing of the forged frame was executed; the plain user is unaffected.
    bob.expect("*** alice has left the server.").await;
    bob.send("still here").await;
    bob.expect("bob: still here").await;

    // A frame longer than the message cap allows, and a frame cut short.
    let mut big = EncClient::connect(addr).await;
    big.expect(GREETING).await;
    big.s.write_all(&(64 * 1024u32).to_be_bytes()).await.unwrap();
    assert_closed(&mut big.s).await;

    let mut cut = EncClient::connect(addr).await;
    cut.expect(GREETING).await;
    let frame = cut.frame("/login bob pw");
    cut.s.write_all(&frame[..frame.len() - 5]).await.unwrap();
    cut.s.shutdown().await.unwrap();
    assert_closed(&mut cut.s).await;

    bob.send("/members").await;
    bob.expect("Members in 'general': bob").await;
    srv.stop().await;
}

#[tokio::test]
async fn out_of_range_public_values_are_refused() {
    let mut srv = start().await;
    let addr = srv.encrypted_addr().expect("encrypted port");
    let p = prime();
    for bad in [BigUint::from(1u32), &p - 1u32, BigUint::from(0u32), p.clone()] {
        let (mut s, _) = connect_and_read_a(addr).await;
        s.write_all(&public_bytes(&bad)).await.unwrap();
        assert_closed(&mut s).await;
    }
    // The listener still works.
    let mut ok = EncClient::connect(addr).await;
    ok.expect(GREETING).await;
    srv.stop().await;
}

#[tokio::test]
async fn silent_client_is_dropped_after_the_handshake_timeout() {
    let mut srv = start().await;
    let addr = srv.encrypted_addr().expect("encrypted port");
    let started = Instant::now();
    let (mut silent, _) = connect_and_read_a(addr).await;
    // Half a B: the server is waiting for the rest.
    silent.write_all(&[0, 96, 1, 2]).await.unwrap();
    assert_closed(&mut silent).await;
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(400), "closed too early: {took:?}");
    assert!(took < Duration::from_secs(3), "closed too late: {took:?}");

    let mut plain = Client::connect(srv.addr()).await;
    plain.expect(GREETING).await;
    srv.stop().await;
}

#[tokio::test]
async fn a_lone_cr_inside_a_frame_is_not_a_line_end() {
    let srv = start().await;
    let addr = srv.encrypted_addr().expect("encrypted port");
    let mut c = EncClient::connect(addr).await;
    c.expect(GREETING).await;
    // As on the plain port: one message, so the CR would be inside the password.
    c.send("/register crx pw\r/login crx pw\r").await;
    c.expect("Error: Passwords cannot contain control characters.").await;
    c.expect(GREETING).await;
    c.send("/login crx pw").await;
    c.expect("Invalid username or password.").await;
    c.expect(GREETING).await;
}
