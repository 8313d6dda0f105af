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
    let reg = crate::plugins::load(&cfg.capabilities, Arc::downgrade(hub), tokio::runtime::Handle::current());
    hub.set_capabilities(Arc::new(reg));
    if cfg.federation.enabled {
        crate::federation::start(&cfg.federation, &cfg.server.listen, hub);
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
    crate::plugins::default_dir()
}

/// One line per plugin file found in `dir`.
pub fn describe_plugins(dir: &std::path::Path) -> Vec<String> {
    crate::plugins::describe_dir(dir)
}
