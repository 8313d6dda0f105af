//! The WebSocket client side without tungstenite's per-message stream: the upgrade
//! request is written by hand, server frames are parsed with tungstenite's
//! `FrameHeader` straight out of the receive buffer (one text frame is one line),
//! the way the plain TCP driver scans lines. A browser decodes frames natively;
//! allocating a `Message` per frame here made the generator, not the server, the
//! bottleneck of WebSocket runs on a shared machine.

use std::io::{self, Cursor};
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::handshake::client::generate_key;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::FrameHeader;

/// Longest upgrade answer we read.
const MAX_ANSWER: usize = 8 * 1024;

/// Upgrades `stream` at `GET /ws`; returns the bytes read past the `101` answer.
pub async fn upgrade(stream: &mut TcpStream, addr: SocketAddr) -> io::Result<Vec<u8>> {
    let key = generate_key();
    let req = format!(
        "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    stream.write_all(req.as_bytes()).await?;
    let mut got = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let end = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "closed during the WebSocket upgrade"));
        }
        got.extend_from_slice(&chunk[..n]);
        if let Some(p) = memchr::memmem::find(&got, b"\r\n\r\n") {
            break p + 4;
        }
        if got.len() > MAX_ANSWER {
            return Err(io::Error::other("WebSocket upgrade answer too long"));
        }
    };
    let head = String::from_utf8_lossy(&got[..end]);
    let accept = format!("sec-websocket-accept: {}", derive_accept_key(key.as_bytes())).to_ascii_lowercase();
    if !head.starts_with("HTTP/1.1 101") || !head.to_ascii_lowercase().contains(&accept) {
        return Err(io::Error::other(format!("WebSocket upgrade refused: {}", head.lines().next().unwrap_or(""))));
    }
    Ok(got[end..].to_vec())
}

/// Takes whole frames off the front of `raw[..*len]`, handing each text payload to `push`;
/// a partial frame stays (moved to the front). `Ok(false)`: the server sent a close.
pub fn take_frames(raw: &mut [u8], len: &mut usize, mut push: impl FnMut(&[u8])) -> io::Result<bool> {
    let mut at = 0;
    let mut open = true;
    while at < *len {
        let mut cur = Cursor::new(&raw[at..*len]);
        let Some((header, n)) = FrameHeader::parse(&mut cur).map_err(io::Error::other)? else { break };
        let (start, n) = (at + cur.position() as usize, n as usize);
        if *len - start < n {
            break;
        }
        match header.opcode {
            OpCode::Data(Data::Text | Data::Continue) => push(&raw[start..start + n]),
            OpCode::Control(tokio_tungstenite::tungstenite::protocol::frame::coding::Control::Close) => open = false,
            _ => {}
        }
        at = start + n;
    }
    raw.copy_within(at..*len, 0);
    *len -= at;
    Ok(open)
}

/// Bytes the buffer must hold for the frame at its front to be complete (header included).
pub fn frame_room(raw: &[u8], len: usize) -> Option<usize> {
    let mut cur = Cursor::new(&raw[..len]);
    match FrameHeader::parse(&mut cur) {
        Ok(Some((_, n))) => Some(cur.position() as usize + n as usize),
        _ => None,
    }
}

/// Appends one masked client text frame holding `text`.
pub fn text_frame(text: &[u8], out: &mut Vec<u8>) {
    let mask: [u8; 4] = rand::random();
    let header = FrameHeader { opcode: OpCode::Data(Data::Text), mask: Some(mask), ..FrameHeader::default() };
    header.format(text.len() as u64, out).expect("writing to a Vec cannot fail");
    out.extend(text.iter().enumerate().map(|(i, b)| b ^ mask[i & 3]));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_cut_at_their_boundaries() {
        // Two server text frames and the start of a third.
        let mut raw = b"\x81\x02hi\x81\x03you\x81\x05ab".to_vec();
        let mut len = raw.len();
        let mut got = Vec::new();
        assert!(take_frames(&mut raw, &mut len, |t| got.push(t.to_vec())).unwrap());
        assert_eq!(got, vec![b"hi".to_vec(), b"you".to_vec()]);
        assert_eq!(&raw[..len], b"\x81\x05ab");
        assert_eq!(frame_room(&raw, len), Some(7));
        let mut raw = b"\x88\x00".to_vec();
        let mut len = 2;
        assert!(!take_frames(&mut raw, &mut len, |_| {}).unwrap());
    }

    #[test]
    fn client_frames_are_masked() {
        let mut out = Vec::new();
        text_frame(b"abcde", &mut out);
        assert_eq!(out[0], 0x81);
        assert_eq!(out[1], 0x80 | 5);
        let mask = [out[2], out[3], out[4], out[5]];
        let text: Vec<u8> = out[6..].iter().enumerate().map(|(i, b)| b ^ mask[i & 3]).collect();
        assert_eq!(text, b"abcde");
    }
}
