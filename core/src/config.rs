//! TOML configuration with defaults for every key, so no file is needed.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The whole configuration file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `[server]`: listeners, host name, storage, admins.
    pub server: ServerConfig,
    /// `[compat]`: byte-identical reference behaviour.
    pub compat: CompatConfig,
    /// `[limits]`: per-IP connections, idle timeout, queues.
    pub limits: LimitsConfig,
    /// `[auth]`: password hashing cost.
    pub auth: AuthConfig,
    /// `[federation]`: server-to-server.
    pub federation: FederationConfig,
    /// `[capabilities]`: which plugins to load.
    pub capabilities: CapabilitiesConfig,
    /// `[metrics]`: the Prometheus endpoint.
    pub metrics: MetricsConfig,
    /// `[web]`: the web app and WebSocket endpoint.
    pub web: WebConfig,
    /// `[cluster]`: several nodes serving one host (off by default).
    pub cluster: crate::cluster::ClusterConfig,
}

/// `[metrics]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Address of the Prometheus `/metrics` endpoint, e.g. `127.0.0.1:9439`; empty = off.
    pub listen: String,
}

/// `[server]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Advertised host name (federation, upload URLs).
    pub host: String,
    /// Plain DMconnect port (also s2s JSON and HTTP).
    pub listen: String,
    /// Legacy encrypted port (protocol.md §6); empty disables.
    pub encrypted_listen: String,
    /// TLS port; empty disables. Needs `tls_cert` and `tls_key`.
    pub tls_listen: String,
    /// HTTP-only port (the web app, `/ws`, uploads; no chat greeting, no sniffing); empty disables.
    pub http_listen: String,
    /// PEM certificate chain for TLS.
    pub tls_cert: String,
    /// PEM private key for TLS.
    pub tls_key: String,
    /// SQLite database and other state.
    pub data_dir: PathBuf,
    /// The subserver that always exists.
    pub default_server: String,
    /// Accounts allowed to /ban and /delete_server.
    pub admins: Vec<String>,
    /// How long the main port waits for a first byte before greeting (protocol.md §7).
    pub sniff_ms: u64,
    /// How long a bare packet waits for more bytes before it counts as complete (protocol.md §2).
    pub grace_ms: u64,
    /// Encrypted/TLS handshakes that take longer are dropped.
    pub handshake_timeout_ms: u64,
    /// Log filter (`info`, `debug`, `dmconnect=debug,warn`); `RUST_LOG` wins when set. Reloadable.
    pub log_level: String,
    /// `text` or `json` (one JSON object per line, for log shippers).
    pub log_format: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            host: "localhost".into(),
            listen: "0.0.0.0:42439".into(),
            encrypted_listen: "0.0.0.0:42440".into(),
            tls_listen: String::new(),
            http_listen: String::new(),
            tls_cert: String::new(),
            tls_key: String::new(),
            data_dir: PathBuf::from("data"),
            default_server: "general".into(),
            admins: Vec::new(),
            sniff_ms: 100,
            grace_ms: 5,
            handshake_timeout_ms: 5000,
            log_level: "info".into(),
            log_format: "text".into(),
        }
    }
}

/// `[compat]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct CompatConfig {
    /// `*Ping!*` and the greeting's trailing space, like the reference.
    pub legacy: bool,
}

/// `[limits]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Connections at once from one IP; 0 = unlimited.
    pub max_connections_per_ip: usize,
    /// Connections at once in total; 0 = unlimited.
    pub max_connections: usize,
    /// A client session with no message for this long is closed; 0 = never.
    pub idle_timeout_secs: u64,
    /// Messages a session's outbound queue may hold before the session is dropped
    /// (senders into its rooms are slowed once it is half full).
    pub outbound_queue_messages: usize,
    /// Bytes a session's outbound queue may hold before the session is dropped.
    pub outbound_queue_bytes: usize,
    /// A session whose socket accepts no bytes for this long while output waits is dropped; 0 = never.
    pub slow_reader_secs: u64,
    /// Chat lines (chat, /act, /pm) per second a session may send on average; 0 = off.
    pub chat_lines_per_sec: u32,
    /// Chat lines a session may send at once before `chat_lines_per_sec` applies.
    pub chat_burst: u32,
    /// Subservers on this host in total; 0 = unlimited.
    pub max_rooms: usize,
    /// Subservers one account may create (admins are exempt); 0 = unlimited.
    pub max_rooms_per_account: usize,
    /// New accounts one IP may register per hour; 0 = unlimited.
    pub registrations_per_ip_per_hour: u32,
    /// Failed logins from one IP before each further attempt is delayed (doubling); 0 = off.
    pub login_failures_per_ip: u32,
    /// Failed logins on one account before attempts on it are delayed; 0 = off.
    pub login_failures_per_account: u32,
    /// Members from other hosts one local subserver may hold; 0 = unlimited.
    pub max_remote_members_per_room: usize,
    /// HTTP uploads (request bodies to capabilities) one IP may start per hour; 0 = unlimited.
    pub uploads_per_ip_per_hour: u32,
    /// Bytes of uploaded files on disk (under the capabilities' files directory); 0 = unlimited.
    pub upload_quota_bytes: u64,
    /// Bytes of upload bodies being received at once, in total; 0 = unlimited.
    pub upload_inflight_bytes: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_connections_per_ip: 64,
            max_connections: 20_000,
            idle_timeout_secs: 600,
            outbound_queue_messages: 4096,
            outbound_queue_bytes: 4 * 1024 * 1024,
            slow_reader_secs: 30,
            chat_lines_per_sec: 5,
            chat_burst: 20,
            max_rooms: 1000,
            max_rooms_per_account: 10,
            registrations_per_ip_per_hour: 20,
            login_failures_per_ip: 20,
            login_failures_per_account: 5,
            max_remote_members_per_room: 1000,
            uploads_per_ip_per_hour: 60,
            upload_quota_bytes: 10 * 1024 * 1024 * 1024,
            upload_inflight_bytes: 256 * 1024 * 1024,
        }
    }
}

/// `[auth]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// argon2id memory cost in KiB.
    pub argon2_memory_kib: u32,
    /// argon2id iterations.
    pub argon2_iterations: u32,
    /// Hashing threads (each keeps one argon2 memory block); 0 = half the cores.
    pub max_concurrent_hashes: usize,
    /// Password checks one IP may have waiting; more are refused at once.
    pub max_queued_hashes_per_ip: usize,
    /// Password checks waiting in total; more are refused at once.
    pub max_queued_hashes: usize,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            argon2_memory_kib: 19 * 1024,
            argon2_iterations: 2,
            max_concurrent_hashes: 0,
            max_queued_hashes_per_ip: 8,
            max_queued_hashes: 1024,
        }
    }
}

/// `[federation]` (see docs/federation.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FederationConfig {
    /// Accept and send server-to-server requests.
    pub enabled: bool,
    /// Port used to reach other hosts (`HOST:peer_port`).
    pub peer_port: u16,
    /// Address overrides: host name → `ip:port` (tests, private networks).
    pub peers: BTreeMap<String, String>,
    /// Connecting to a peer gives up after this long.
    pub connect_timeout_ms: u64,
    /// Waiting for a peer's answer gives up after this long (the peer may dial back first).
    pub request_timeout_ms: u64,
    /// A whole dialback check (connect, ask, answer) gives up after this long.
    pub dialback_timeout_ms: u64,
    /// Deprecated and ignored: every inbound message is now verified on its own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dialback_cache_secs: Option<u64>,
    /// Message ids this server sent are confirmed to dialbacks for this long.
    pub sent_ids_secs: u64,
    /// An inbound request must arrive whole within this long.
    pub inbound_timeout_ms: u64,
    /// Largest request or answer line, in bytes.
    pub max_message_bytes: usize,
    /// Outbound connections open at once to one peer.
    pub max_connections_per_peer: usize,
    /// Fire-and-forget messages waiting for one peer; more are dropped.
    pub queue_per_peer: usize,
    /// Extra attempts for fire-and-forget messages after a network failure.
    pub retries: u32,
    /// First pause before a retry; doubles each time.
    pub retry_backoff_ms: u64,
    /// After a failed delivery, queued messages to that peer fail at once for this long.
    pub peer_down_ms: u64,
    /// How often the home host pings member hosts and asks who is still online.
    pub liveness_interval_ms: u64,
    /// Failed pings in a row after which a host's members are removed.
    pub ping_failures: u32,
    /// Allow peers on loopback, private (RFC 1918, ULA), link-local and CGNAT addresses.
    pub allow_private_peers: bool,
    /// Source address of outbound s2s connections; empty: `[server] listen`'s IP unless it is 0.0.0.0/::.
    pub source_ip: String,
    /// A message id we sent is vouched for to at most this many dialback checks.
    pub vouch_max: u32,
    /// Failing dialbacks per second that requests from one source IP may trigger; 0 = no limit.
    pub dialback_rate_per_ip: u32,
    /// Failing dialbacks per second that requests claiming one host may trigger; 0 = no limit.
    pub dialback_rate_per_host: u32,
    /// Burst allowed above those rates.
    pub dialback_burst: u32,
    /// A failed dialback refuses that (claimed host, source IP) at once for this long; 0 = off.
    pub dialback_fail_secs: u64,
    /// Outbound dialbacks in flight at once, in total; 0 = no limit.
    pub max_concurrent_dialbacks: usize,
}

impl Default for FederationConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            peer_port: 42439,
            peers: BTreeMap::new(),
            connect_timeout_ms: 3000,
            request_timeout_ms: 8000,
            dialback_timeout_ms: 4000,
            dialback_cache_secs: None,
            sent_ids_secs: 300,
            inbound_timeout_ms: 5000,
            max_message_bytes: 256 * 1024,
            max_connections_per_peer: 8,
            queue_per_peer: 1024,
            retries: 2,
            retry_backoff_ms: 500,
            peer_down_ms: 5000,
            liveness_interval_ms: 60_000,
            ping_failures: 3,
            allow_private_peers: true,
            source_ip: String::new(),
            vouch_max: 3,
            dialback_rate_per_ip: 20,
            dialback_rate_per_host: 20,
            dialback_burst: 50,
            dialback_fail_secs: 15,
            max_concurrent_dialbacks: 64,
        }
    }
}

/// `[capabilities]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CapabilitiesConfig {
    /// Where the bundled `libdmcap_NAME.so` files are; default: the executable's directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
    /// More plugin directories, searched in order before `dir`.
    pub dirs: Vec<PathBuf>,
    /// Where capabilities keep their files (`NAME/` each, uploads too); default
    /// `DATA_DIR/capabilities`. Shared storage here lets every cluster node serve every upload.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files_dir: Option<PathBuf>,
    /// Capabilities to load, in `/list_capabilities` order.
    pub enabled: Vec<String>,
    /// `[capabilities.NAME]` tables, handed to each capability.
    #[serde(flatten)]
    pub settings: BTreeMap<String, toml::Value>,
}

impl CapabilitiesConfig {
    /// Where capabilities keep their files: `files_dir`, else `DATA_DIR/capabilities`.
    pub fn files_root(&self, data_dir: &std::path::Path) -> PathBuf {
        self.files_dir.clone().unwrap_or_else(|| data_dir.join("capabilities"))
    }

    /// Rejects typos among the `[capabilities]` keys (the NAME tables are the plugins' to check).
    pub fn check(&self) -> Result<(), String> {
        for (key, v) in &self.settings {
            match (key.as_str(), v) {
                ("command_timeout_ms", toml::Value::Integer(n)) if *n > 0 => {}
                ("command_timeout_ms", _) => {
                    return Err("[capabilities] command_timeout_ms: expected a positive integer".into())
                }
                (_, toml::Value::Table(_)) => {}
                _ => {
                    return Err(format!(
                        "unknown key `{key}` in [capabilities] (expected `dir`, `dirs`, `files_dir`, \
                         `enabled`, `command_timeout_ms` or a [capabilities.NAME] table)"
                    ))
                }
            }
        }
        Ok(())
    }

    /// Where plugins are looked for: `dirs` in order, then the bundled directory.
    pub fn search_path(&self, bundled: PathBuf) -> Vec<PathBuf> {
        let mut v = self.dirs.clone();
        v.push(self.dir.clone().unwrap_or(bundled));
        v
    }
}

impl Default for CapabilitiesConfig {
    fn default() -> Self {
        Self {
            dir: None,
            dirs: Vec::new(),
            files_dir: None,
            enabled: ["status", "ignore", "sessions", "http_file_upload"].map(String::from).to_vec(),
            settings: BTreeMap::new(),
        }
    }
}

/// `[web]` (see docs/web-client.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebConfig {
    /// Serve the web app (`GET /`) and WebSocket sessions (`GET /ws`).
    pub enabled: bool,
    /// Origins (`https://chat.example.org`) whose pages may open WebSocket sessions;
    /// `"*"` allows any; empty: only pages served by this host (Origin matches Host).
    pub allowed_origins: Vec<String>,
    /// Largest WebSocket frame or message; larger ones close the session.
    pub max_message_bytes: usize,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self { enabled: true, allowed_origins: Vec::new(), max_message_bytes: 64 * 1024 }
    }
}

impl Config {
    /// Reads and checks a config file.
    pub fn load(path: &Path) -> Result<Config, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses and checks config text.
    pub fn parse(text: &str) -> Result<Config, String> {
        let cfg: Config = toml::from_str(text).map_err(|e| e.to_string())?;
        cfg.check()?;
        Ok(cfg)
    }

    /// The settings as TOML that [`Config::parse`] reads back unchanged.
    pub fn to_toml(&self) -> Result<String, String> {
        toml::to_string(self).map_err(|e| format!("cannot print the settings: {e}"))
    }

    /// Checks values that TOML types alone cannot.
    pub fn check(&self) -> Result<(), String> {
        self.capabilities.check()?;
        let s = &self.server;
        if s.host.is_empty() {
            return Err("[server] host must not be empty".into());
        }
        for (key, v) in [
            ("listen", &s.listen),
            ("encrypted_listen", &s.encrypted_listen),
            ("tls_listen", &s.tls_listen),
            ("http_listen", &s.http_listen),
        ] {
            if !(v.is_empty() && key != "listen") && v.parse::<std::net::SocketAddr>().is_err() {
                return Err(format!("[server] {key} = {v:?} is not an address like 0.0.0.0:42439"));
            }
        }
        let m = &self.metrics.listen;
        if !m.is_empty() && m.parse::<std::net::SocketAddr>().is_err() {
            return Err(format!("[metrics] listen = {m:?} is not an address like 127.0.0.1:9439"));
        }
        if !s.tls_listen.is_empty() && (s.tls_cert.is_empty() || s.tls_key.is_empty()) {
            return Err("[server] tls_listen needs tls_cert and tls_key".into());
        }
        if crate::names::check_room_name(&s.default_server).is_err() {
            return Err(format!("[server] default_server = {:?} is not a valid subserver name", s.default_server));
        }
        if !matches!(s.log_format.as_str(), "text" | "json") {
            return Err(format!("[server] log_format = {:?}: use \"text\" or \"json\"", s.log_format));
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&s.log_level) {
            return Err(format!("[server] log_level = {:?}: {e}", s.log_level));
        }
        if s.grace_ms >= 40 {
            return Err("[server] grace_ms must be below 40 (protocol.md §2: delayed ACKs)".into());
        }
        if self.limits.outbound_queue_messages == 0 || self.limits.outbound_queue_bytes < 64 * 1024 {
            return Err("[limits] outbound queue must hold at least 1 message and 64 KiB".into());
        }
        if self.web.max_message_bytes < crate::framing::MAX_MESSAGE + 2 {
            return Err("[web] max_message_bytes must be at least 32770 (one whole message)".into());
        }
        let f = &self.federation;
        if !f.source_ip.is_empty() && f.source_ip.parse::<std::net::IpAddr>().is_err() {
            return Err(format!("[federation] source_ip = {:?} is not an IP address", f.source_ip));
        }
        if self.auth.argon2_memory_kib < 8 || self.auth.argon2_iterations == 0 {
            return Err("[auth] argon2_memory_kib must be >= 8 and argon2_iterations >= 1".into());
        }
        self.cluster.check()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_defaults() {
        let c = Config::parse("").unwrap();
        assert_eq!(c.server.listen, "0.0.0.0:42439");
        assert_eq!(c.server.default_server, "general");
        assert!(!c.compat.legacy);
        assert_eq!(c.capabilities.enabled.len(), 4);
    }

    #[test]
    fn unknown_keys_and_bad_addresses_are_refused() {
        assert!(Config::parse("[server]\nlisten = \"nope\"\n").is_err());
        assert!(Config::parse("[server]\nlisen = \"0.0.0.0:1\"\n").is_err());
        assert!(Config::parse("[server]\ngrace_ms = 40\n").is_err());
    }

    #[test]
    fn printed_settings_read_back_the_same() {
        let mut c = Config::default();
        c.server.admins = vec!["root".into()];
        c.capabilities.dir = Some("/usr/lib/dmconnect/capabilities".into());
        c.federation.peers.insert("b.example".into(), "10.0.0.2:42439".into());
        let mut t = toml::Table::new();
        t.insert("max_size".into(), toml::Value::Integer(10));
        c.capabilities.settings.insert("http_file_upload".into(), toml::Value::Table(t));
        let text = c.to_toml().unwrap();
        assert_eq!(Config::parse(&text).unwrap(), c, "{text}");
        assert_eq!(Config::parse(&Config::default().to_toml().unwrap()).unwrap(), Config::default());
    }

    #[test]
    fn the_example_file_matches_the_defaults() {
        let text = include_str!("../../examples/dmconnect.toml");
        assert_eq!(Config::parse(text).unwrap(), Config::default());
        // Every key of the defaults is spelled out (uncommented) in the example.
        let example: toml::Table = toml::from_str(text).unwrap();
        let defaults: toml::Table = toml::from_str(&Config::default().to_toml().unwrap()).unwrap();
        for (section, keys) in &defaults {
            let have = example.get(section).and_then(|v| v.as_table()).unwrap_or_else(|| panic!("[{section}] missing"));
            for key in keys.as_table().unwrap().keys() {
                assert!(have.contains_key(key), "[{section}] {key} missing from examples/dmconnect.toml");
            }
        }
    }

    #[test]
    fn federation_keys() {
        let c = Config::parse("[federation]\ndialback_cache_secs = 60\nallow_private_peers = false\n").unwrap();
        assert_eq!(c.federation.dialback_cache_secs, Some(60));
        assert!(!c.federation.allow_private_peers);
        assert!(Config::default().federation.allow_private_peers);
        assert!(Config::parse("[federation]\nsource_ip = \"nope\"\n").is_err());
        assert!(Config::parse("[federation]\nsource_ip = \"127.0.0.2\"\n").is_ok());
    }

    #[test]
    fn capability_tables_are_kept() {
        let c =
            Config::parse("[capabilities]\nenabled = [\"status\"]\n[capabilities.http_file_upload]\nmax_size = 10\n")
                .unwrap();
        assert_eq!(c.capabilities.enabled, vec!["status"]);
        assert!(c.capabilities.settings.contains_key("http_file_upload"));
    }

    #[test]
    fn capability_key_typos_are_refused() {
        let e = Config::parse("[capabilities]\nenable = [\"status\"]\n").unwrap_err();
        assert!(e.starts_with("unknown key `enable` in [capabilities]"), "{e}");
        let e = Config::parse("[capabilities]\ncomand_timeout_ms = 5\n").unwrap_err();
        assert!(e.starts_with("unknown key `comand_timeout_ms` in [capabilities]"), "{e}");
        assert!(Config::parse("[capabilities]\ncommand_timeout_ms = \"5\"\n").is_err());
        let c = Config::parse("[capabilities]\ndirs = [\"/opt/x\"]\ndir = \"/b\"\ncommand_timeout_ms = 5\n").unwrap();
        assert_eq!(c.capabilities.search_path("/d".into()), vec![PathBuf::from("/opt/x"), PathBuf::from("/b")]);
    }
}
