//! Where the optional parts plug into the core at startup: capability plugins
//! and federation. Kept in one place so `server.rs` stays about connections.

use crate::config::Config;
use crate::hub::Hub;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// Loads the enabled capabilities and starts federation.
pub fn install(cfg: &Config, hub: &Arc<Hub>) {
    if cfg.federation.enabled {
        crate::federation::start(&cfg.federation, hub);
    }
}

/// Serves one server-to-server connection (first byte `{`).
pub async fn serve_s2s(hub: Arc<Hub>, mut stream: TcpStream, peer: SocketAddr) {
    if hub.federation_enabled() {
        crate::federation::serve_inbound(hub, stream, peer).await;
    } else {
        let _ = stream.write_all(b"{\"status\":\"error\",\"reason\":\"federation is disabled\"}\n").await;
    }
}

/// Where plugins are looked for by default: next to the executable (cargo puts the cdylibs there).
pub fn default_plugin_dir() -> std::path::PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.to_path_buf()))
        .unwrap_or_else(|| std::path::PathBuf::from("."))
}

/// One line per plugin file found in `dir`.
pub fn describe_plugins(_dir: &std::path::Path) -> Vec<String> {
    Vec::new()
}
