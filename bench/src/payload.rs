//! The text carried in every benchmark message: phase, sender, sequence and send time.
//!
//! Format: `~B<phase>.<sender hex>.<seq hex>.<nanos hex>.` padded with `x` to the wanted size.
//! Receivers find it anywhere in a line, so the same parser serves both protocols.

use memchr::memmem::Finder;
use std::sync::OnceLock;
use std::time::Instant;

const MARK: &[u8] = b"~B";

/// One decoded message stamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// Scenario phase at send time (0 = baseline, 1 = under disturbance).
    pub phase: u8,
    /// Index of the sending client.
    pub sender: u32,
    /// Per-sender sequence number.
    pub seq: u64,
    /// Send time, nanoseconds since [`now_nanos`]'s origin.
    pub nanos: u64,
}

/// Nanoseconds since the process's shared origin.
pub fn now_nanos() -> u64 {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    ORIGIN.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// Builds the message text for `stamp`, padded to at least `size` bytes.
pub fn encode(stamp: Stamp, size: usize) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(size.max(48));
    let _ = write!(s, "~B{}.{:x}.{:x}.{:x}.", stamp.phase, stamp.sender, stamp.seq, stamp.nanos);
    while s.len() < size {
        s.push('x');
    }
    s
}

/// Finds and decodes a stamp in one received line.
pub struct Decoder {
    finder: Finder<'static>,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder { finder: Finder::new(MARK) }
    }
}

impl Decoder {
    /// The stamp in `line`, if it carries one.
    pub fn decode(&self, line: &[u8]) -> Option<Stamp> {
        let at = self.finder.find(line)?;
        let mut rest = &line[at + MARK.len()..];
        let phase = *rest.first()?;
        if !phase.is_ascii_digit() || rest.get(1) != Some(&b'.') {
            return None;
        }
        rest = &rest[2..];
        let sender = hex_field(&mut rest)?;
        let seq = hex_field(&mut rest)?;
        let nanos = hex_field(&mut rest)?;
        Some(Stamp { phase: phase - b'0', sender: u32::try_from(sender).ok()?, seq, nanos })
    }
}

/// Parses hex digits up to the next `.` and moves past it.
fn hex_field(rest: &mut &[u8]) -> Option<u64> {
    let mut v: u64 = 0;
    for (i, &b) in rest.iter().enumerate() {
        let d = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'.' if i > 0 => {
                *rest = &rest[i + 1..];
                return Some(v);
            }
            _ => return None,
        };
        v = v.checked_mul(16)?.checked_add(u64::from(d))?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_inside_protocol_lines() {
        let st = Stamp { phase: 1, sender: 42, seq: 7, nanos: 123_456_789 };
        let text = encode(st, 64);
        assert_eq!(text.len(), 64);
        let d = Decoder::default();
        assert_eq!(d.decode(format!("u42: {text}").as_bytes()), Some(st));
        assert_eq!(d.decode(format!(":u42!u@h PRIVMSG #r0 :{text}").as_bytes()), Some(st));
        assert_eq!(d.decode(format!("(Private) u42: {text}").as_bytes()), Some(st));
    }

    #[test]
    fn other_lines_carry_nothing() {
        let d = Decoder::default();
        assert_eq!(d.decode(b"*** u1 has joined the server."), None);
        assert_eq!(d.decode(b"u1: ~B1.zz.1.1."), None);
        assert_eq!(d.decode(b"u1: ~B1.1.1"), None);
    }
}
