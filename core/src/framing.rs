//! Bytes → messages, exactly as protocol.md §2 says. Nothing else happens here.
//!
//! Input is split on `\n` with one trailing `\r` stripped; bytes after the last
//! `\n` become a message once the connection goes quiet (the caller decides
//! when that is and calls [`Framer::flush`]).

use std::collections::VecDeque;

/// The largest message a client may send, in bytes (seed: 32,768 per packet).
pub const MAX_MESSAGE: usize = 32 * 1024;

/// One unit of client input, as the session sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// A complete, valid UTF-8 message without its line terminator.
    Message(String),
    /// A message over [`MAX_MESSAGE`] bytes; it was discarded.
    TooLong,
    /// A message that is not valid UTF-8; it was discarded.
    BadUtf8,
}

/// Splits a byte stream into [`Inbound`] items.
#[derive(Debug, Default)]
pub struct Framer {
    pending: Vec<u8>,
    /// Set after a too-long message was reported: skip bytes up to the next
    /// `\n` (or the next quiet moment) without reporting again.
    discarding: bool,
}

impl Framer {
    /// A framer with nothing pending.
    pub fn new() -> Self {
        Self::default()
    }

    /// True when bytes without a terminator are waiting for more input or quiet.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty() || self.discarding
    }

    /// Feeds bytes; every complete line is appended to `out`.
    pub fn push(&mut self, mut data: &[u8], out: &mut VecDeque<Inbound>) {
        while let Some(pos) = data.iter().position(|&b| b == b'\n') {
            let (line, rest) = data.split_at(pos);
            data = &rest[1..];
            if self.discarding {
                self.discarding = false;
                self.pending.clear();
                continue;
            }
            if self.pending.is_empty() {
                emit(line, out);
            } else {
                let mut whole = std::mem::take(&mut self.pending);
                whole.extend_from_slice(line);
                emit(&whole, out);
            }
        }
        if data.is_empty() || self.discarding {
            return;
        }
        // +1 leaves room for a `\r` that a line terminator may still strip.
        if self.pending.len() + data.len() > MAX_MESSAGE + 1 {
            self.pending = Vec::new();
            self.discarding = true;
            out.push_back(Inbound::TooLong);
            return;
        }
        self.pending.extend_from_slice(data);
    }

    /// The connection went quiet: what is pending is a complete message.
    pub fn flush(&mut self, out: &mut VecDeque<Inbound>) {
        if self.discarding {
            self.discarding = false;
        } else if !self.pending.is_empty() {
            let whole = std::mem::take(&mut self.pending);
            emit(&whole, out);
        }
        // Idle sessions should hold no buffer memory.
        self.pending = Vec::new();
    }
}

fn emit(line: &[u8], out: &mut VecDeque<Inbound>) {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.is_empty() {
        return;
    }
    if line.len() > MAX_MESSAGE {
        out.push_back(Inbound::TooLong);
        return;
    }
    match std::str::from_utf8(line) {
        Ok(text) => out.push_back(Inbound::Message(text.to_owned())),
        Err(_) => out.push_back(Inbound::BadUtf8),
    }
}

/// Splits a message that is complete in itself (an encrypted frame's text)
/// into messages exactly like plain-port input.
pub fn split_complete(data: &[u8], out: &mut VecDeque<Inbound>) {
    let mut framer = Framer::new();
    framer.push(data, out);
    framer.flush(out);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(chunks: &[&[u8]], quiet_after_each: bool) -> Vec<Inbound> {
        let mut f = Framer::new();
        let mut out = VecDeque::new();
        for c in chunks {
            f.push(c, &mut out);
            if quiet_after_each {
                f.flush(&mut out);
            }
        }
        f.flush(&mut out);
        out.into_iter().collect()
    }

    fn msg(s: &str) -> Inbound {
        Inbound::Message(s.to_owned())
    }

    #[test]
    fn lines_and_bare_packets_mix() {
        let got = run(&[b"/login a b\r\n/join_server x\n", b"hello", b"\r\n"], false);
        assert_eq!(got, vec![msg("/login a b"), msg("/join_server x"), msg("hello")]);
        let got = run(&[b"/", b"/login a b"], true);
        assert_eq!(got, vec![msg("/"), msg("/login a b")]);
    }

    #[test]
    fn empty_lines_are_ignored() {
        assert_eq!(run(&[b"\r\n\n\nx\n"], false), vec![msg("x")]);
    }

    #[test]
    fn too_long_is_reported_once_and_rest_discarded() {
        let big = vec![b'a'; MAX_MESSAGE + 10];
        let got = run(&[&big, &big, b"tail\nnext\n"], false);
        assert_eq!(got, vec![Inbound::TooLong, msg("next")]);
        let exact = vec![b'a'; MAX_MESSAGE];
        let mut line = exact.clone();
        line.extend_from_slice(b"\r\n");
        assert_eq!(run(&[&line], false).len(), 1);
        assert!(matches!(run(&[&line], false)[0], Inbound::Message(_)));
    }

    #[test]
    fn bad_utf8_is_reported() {
        assert_eq!(run(&[b"\xff\xfe\nok\n"], false), vec![Inbound::BadUtf8, msg("ok")]);
    }
}

#[cfg(test)]
mod prop;
