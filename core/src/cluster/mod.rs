//! Cluster mode: one host served by several nodes that share PostgreSQL and
//! talk over NATS (`nats.rs`).
//! `[cluster] enabled = false` (the default) keeps today's single process on
//! SQLite with nothing else to run. See docs/cluster.md for what is shared.

pub mod nats;
pub mod presence_kv;
pub mod sent_kv;

use crate::store::Store;
use serde::Deserialize;
use std::path::Path;
use std::time::Duration;

/// `[cluster]`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterConfig {
    /// Off: SQLite in `data_dir`, one process.
    pub enabled: bool,
    /// This node's name, unique in the cluster (logs, bus headers).
    pub node_id: String,
    /// `postgres://user@host:port/db`: accounts, subservers, bans, capability storage.
    pub postgres_url: String,
    /// Connections this node keeps to PostgreSQL.
    pub postgres_pool: usize,
    /// A PostgreSQL call that takes longer fails with a storage error.
    pub postgres_timeout_ms: u64,
    /// `nats://host:port`: the bus between nodes.
    pub nats_url: String,
    /// Connecting to NATS at start may take this long.
    pub nats_timeout_ms: u64,
    /// How often a node says it is alive.
    pub heartbeat_ms: u64,
    /// A node silent for this long counts as dead.
    pub node_timeout_ms: u64,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            node_id: String::new(),
            postgres_url: String::new(),
            postgres_pool: 16,
            postgres_timeout_ms: 5000,
            nats_url: String::new(),
            nats_timeout_ms: 5000,
            heartbeat_ms: 1000,
            node_timeout_ms: 5000,
        }
    }
}

impl ClusterConfig {
    /// Checks values that TOML types alone cannot.
    pub fn check(&self) -> Result<(), String> {
        if !self.enabled {
            return Ok(());
        }
        let id_ok = !self.node_id.is_empty()
            && self.node_id.len() <= 32
            && self.node_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !id_ok {
            return Err("[cluster] node_id must be 1-32 letters, digits, '-' or '_'".into());
        }
        if !self.postgres_url.starts_with("postgres://") && !self.postgres_url.starts_with("postgresql://") {
            return Err("[cluster] postgres_url must be a postgres:// URL".into());
        }
        if !self.nats_url.starts_with("nats://") {
            return Err("[cluster] nats_url must be a nats:// URL".into());
        }
        if self.postgres_pool == 0 || self.postgres_pool > 1000 {
            return Err("[cluster] postgres_pool must be 1..=1000".into());
        }
        if self.postgres_timeout_ms < 100 {
            return Err("[cluster] postgres_timeout_ms must be at least 100".into());
        }
        if self.heartbeat_ms == 0 || self.node_timeout_ms < 2 * self.heartbeat_ms {
            return Err("[cluster] node_timeout_ms must be at least twice heartbeat_ms".into());
        }
        Ok(())
    }

    /// Opens this node's storage: PostgreSQL in cluster mode, else SQLite in `data_dir`.
    pub async fn open_store(&self, data_dir: &Path) -> Result<Store, String> {
        if !self.enabled {
            return Store::open(data_dir).map_err(|e| e.to_string());
        }
        let timeout = Duration::from_millis(self.postgres_timeout_ms);
        let store = Store::connect_postgres(&self.postgres_url, self.postgres_pool, timeout)
            .await
            .map_err(|e| format!("[cluster] postgres_url: {e}"))?;
        tracing::info!(node = %self.node_id, "cluster mode: storage on PostgreSQL");
        Ok(store)
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn off_by_default_and_checked_when_on() {
        assert!(!Config::parse("").unwrap().cluster.enabled);
        assert!(Config::parse("[cluster]\nenabled = true\n").is_err());
        let ok = "[cluster]\nenabled = true\nnode_id = \"a\"\npostgres_url = \"postgres://u@127.0.0.1/db\"\nnats_url = \"nats://127.0.0.1:4222\"\n";
        assert!(Config::parse(ok).is_ok());
        assert!(Config::parse(&format!("{ok}heartbeat_ms = 4000\n")).is_err());
        assert!(Config::parse(&ok.replace("\"a\"", "\"a b\"")).is_err());
    }
}
