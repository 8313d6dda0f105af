//! Settings of the outbound side of federation, from `[federation]`, with
//! too-small values raised to something usable.

use crate::config::FederationConfig;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// Settings of the outbound side, from `[federation]`.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Our advertised host name (`from_host`).
    pub host: String,
    pub(super) peer_port: u16,
    pub(super) peers: HashMap<String, String>,
    /// Connect timeout.
    pub connect: Duration,
    /// Answer timeout.
    pub answer: Duration,
    /// Whole dialback timeout.
    pub dialback: Duration,
    /// Largest line in either direction.
    pub max_bytes: usize,
    pub(super) per_peer: usize,
    pub(super) queue: usize,
    pub(super) retries: u32,
    pub(super) backoff: Duration,
    pub(super) down_for: Duration,
    pub(super) allow_private: bool,
    /// Outbound connections start from this address (so peers can check where they come from).
    pub source_ip: Option<IpAddr>,
    /// `source_ip` was configured, not taken from `listen`.
    pub(super) source_explicit: bool,
}

fn ms(v: u64, min: u64) -> Duration {
    Duration::from_millis(v.max(min))
}

impl Settings {
    /// From the config, with too-small values raised to something usable. `listen` is
    /// `[server] listen`: its IP is the source address unless it is 0.0.0.0/:: or
    /// `source_ip` says otherwise.
    pub fn new(host: &str, c: &FederationConfig, listen: &str) -> Settings {
        let listen_ip = listen.parse::<SocketAddr>().ok().map(|a| a.ip()).filter(|ip| !ip.is_unspecified());
        Settings {
            host: host.to_owned(),
            peer_port: if c.peer_port == 0 { 42439 } else { c.peer_port },
            peers: c.peers.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            connect: ms(c.connect_timeout_ms, 10),
            answer: ms(c.request_timeout_ms, 10),
            dialback: ms(c.dialback_timeout_ms, 10),
            max_bytes: c.max_message_bytes.max(4096),
            per_peer: c.max_connections_per_peer.max(1),
            queue: c.queue_per_peer.max(1),
            retries: c.retries,
            backoff: ms(c.retry_backoff_ms, 1),
            down_for: Duration::from_millis(c.peer_down_ms),
            allow_private: c.allow_private_peers,
            source_ip: c.source_ip.parse().ok().or(listen_ip),
            source_explicit: !c.source_ip.is_empty(),
        }
    }

    /// Where a host is reached: the `peers` override or `HOST:peer_port`.
    pub fn address(&self, host: &str) -> String {
        match self.peers.get(host) {
            Some(a) => a.clone(),
            None if host.contains(':') => format!("[{host}]:{}", self.peer_port),
            None => format!("{host}:{}", self.peer_port),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        let mut c = FederationConfig { peer_port: 5000, ..FederationConfig::default() };
        c.peers.insert("a.test".into(), "127.0.0.1:6000".into());
        let s = Settings::new("me", &c, "0.0.0.0:1");
        assert_eq!(s.source_ip, None);
        assert_eq!(Settings::new("me", &c, "127.0.0.2:1").source_ip, Some("127.0.0.2".parse().unwrap()));
        assert_eq!(s.address("a.test"), "127.0.0.1:6000");
        assert_eq!(s.address("127.0.0.2"), "127.0.0.2:5000");
        assert_eq!(s.address("::1"), "[::1]:5000");
    }
}
