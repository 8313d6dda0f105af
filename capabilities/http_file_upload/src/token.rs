//! Upload tokens for `require_token = true`: `EXPIRES-MAC`, where MAC is
//! HMAC-SHA256 over EXPIRES (Unix seconds) with a key kept in the capability's
//! storage, so every node of a cluster accepts every node's tokens. Nothing is
//! stored per token: a token is good until it expires.

use hmac::{Hmac, Mac};
use plugin_api::Host;
use sha2::Sha256;

const KEY: &str = "token_key";
/// Bytes of the MAC kept in a token.
const MAC_BYTES: usize = 16;

/// Issues and checks tokens.
pub struct Tokens {
    key: Vec<u8>,
    ttl: u64,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.is_ascii() {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok()).collect()
}

impl Tokens {
    /// The shared key from storage (made by whichever node needs it first).
    pub fn load(host: &Host, ttl: u64) -> Result<Tokens, String> {
        let fresh = hex(&rand::random::<[u8; 32]>());
        host.kv_compare_and_set(KEY, None, Some(&fresh))?;
        let key = host.kv_get(KEY)?.and_then(|k| unhex(&k)).ok_or("upload token key missing")?;
        Ok(Tokens { key, ttl })
    }

    fn mac(&self, expires: u64) -> Hmac<Sha256> {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("HMAC takes any key length");
        m.update(expires.to_string().as_bytes());
        m
    }

    /// A token good for the TTL from `now` (Unix seconds).
    pub fn issue(&self, now: u64) -> String {
        let expires = now + self.ttl;
        let tag = self.mac(expires).finalize().into_bytes();
        format!("{expires}-{}", hex(&tag[..MAC_BYTES]))
    }

    /// True for an unexpired token this key issued.
    pub fn valid(&self, token: &str, now: u64) -> bool {
        let Some((expires, tag)) = token.split_once('-') else { return false };
        let (Ok(expires), Some(tag)) = (expires.parse::<u64>(), unhex(tag)) else { return false };
        expires > now && expires <= now + self.ttl && self.mac(expires).verify_truncated_left(&tag).is_ok()
    }

    /// Seconds a token lasts.
    pub fn ttl(&self) -> u64 {
        self.ttl
    }
}

/// The `token` parameter of a path's query, if any.
pub fn from_query(path: &str) -> Option<&str> {
    let query = path.split_once('?')?.1;
    query.split('&').find_map(|kv| kv.strip_prefix("token="))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_expire_and_cannot_be_forged() {
        let t = Tokens { key: vec![7; 32], ttl: 300 };
        let tok = t.issue(1000);
        assert!(t.valid(&tok, 1000) && t.valid(&tok, 1299));
        assert!(!t.valid(&tok, 1300));
        let (_, mac) = tok.split_once('-').unwrap();
        assert!(!t.valid(&format!("9999-{mac}"), 1000));
        assert!(!t.valid("1200-00", 1000) && !t.valid("", 1000) && !t.valid("x-y", 1000));
        let other = Tokens { key: vec![8; 32], ttl: 300 };
        assert!(!other.valid(&tok, 1000));
        assert_eq!(from_query("/upload?a=1&token=12-ab"), Some("12-ab"));
        assert_eq!(from_query("/upload"), None);
    }
}
