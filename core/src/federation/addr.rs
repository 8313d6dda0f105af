//! Which addresses this server may dial, and a small bounded cache of name
//! lookups (used to connect out and to check that a caller is the host it
//! claims to be).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// How long a lookup is reused.
const CACHE_FOR: Duration = Duration::from_secs(30);
/// Most lookups cached at once.
const MAX_CACHED: usize = 4096;

/// Never dialled: unspecified, multicast, broadcast.
fn never(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => a.is_unspecified() || a.is_multicast() || a.is_broadcast(),
        IpAddr::V6(a) => a.is_unspecified() || a.is_multicast(),
    }
}

/// Loopback, private (RFC 1918, ULA), link-local or CGNAT.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => v4_private(a),
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => v4_private(v4),
            None => v6_private(a),
        },
    }
}

fn v4_private(a: Ipv4Addr) -> bool {
    let [x, y, ..] = a.octets();
    a.is_loopback() || a.is_private() || a.is_link_local() || (x == 100 && (64..128).contains(&y))
}

fn v6_private(a: Ipv6Addr) -> bool {
    let first = a.segments()[0];
    a.is_loopback() || (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80
}

/// May this server connect to `ip`?
pub fn allowed(ip: IpAddr, allow_private: bool) -> bool {
    let ip = ip.to_canonical();
    !never(ip) && (allow_private || !is_private(ip))
}

/// Name lookups, cached briefly and bounded.
#[derive(Default)]
pub struct Resolver {
    cache: Mutex<HashMap<String, (Instant, Vec<SocketAddr>)>>,
}

impl Resolver {
    /// The addresses of `host:port` (or a literal `ip:port`), within `limit`.
    pub async fn lookup(&self, addr: &str, limit: Duration) -> Result<Vec<SocketAddr>, String> {
        if let Ok(a) = addr.parse::<SocketAddr>() {
            return Ok(vec![a]);
        }
        if let Some((at, found)) = self.lock().get(addr) {
            if at.elapsed() < CACHE_FOR {
                return Ok(found.clone());
            }
        }
        let found: Vec<SocketAddr> = match tokio::time::timeout(limit, tokio::net::lookup_host(addr)).await {
            Ok(Ok(it)) => it.collect(),
            Ok(Err(e)) => return Err(format!("{addr}: {e}")),
            Err(_) => return Err(format!("{addr}: name lookup timed out")),
        };
        let mut c = self.lock();
        if c.len() >= MAX_CACHED {
            c.retain(|_, (at, _)| at.elapsed() < CACHE_FOR);
            if c.len() >= MAX_CACHED {
                c.clear();
            }
        }
        c.insert(addr.to_owned(), (Instant::now(), found.clone()));
        Ok(found)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, Vec<SocketAddr>)>> {
        crate::sync::lock(&self.cache)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn address_policy() {
        for bad in ["0.0.0.0", "255.255.255.255", "224.0.0.1", "::", "ff02::1"] {
            assert!(!allowed(ip(bad), true), "{bad}");
        }
        for private in ["127.0.0.3", "10.1.2.3", "192.168.1.1", "172.16.0.1", "169.254.1.1", "100.64.0.1", "::1"] {
            assert!(allowed(ip(private), true), "{private}");
            assert!(!allowed(ip(private), false), "{private}");
        }
        for private in ["fd00::1", "fe80::1", "::ffff:127.0.0.1"] {
            assert!(!allowed(ip(private), false), "{private}");
        }
        assert!(allowed(ip("8.8.8.8"), false));
        assert!(allowed(ip("100.128.0.1"), false));
        assert!(allowed(ip("2001:db8::1"), false));
    }
}
