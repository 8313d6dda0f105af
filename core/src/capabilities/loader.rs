//! Finding, checking and starting capability plugins (see the module docs of
//! [`super`]); `dmconnect capabilities` lists what a directory holds.

use super::host::PluginHost;
use super::registry::Registry;
use crate::config::CapabilitiesConfig;
use crate::hub::Hub;
use crate::store::Store;
use plugin_api::loader::{Library, LoadError, Plugin};
use std::path::{Path, PathBuf};
use std::sync::Weak;
use std::time::Duration;
use tracing::{info, warn};

/// Where plugins are looked for by default: next to the executable (cargo puts the cdylibs there).
pub fn default_dir() -> PathBuf {
    std::env::current_exe().ok().and_then(|p| p.parent().map(Path::to_path_buf)).unwrap_or_else(|| PathBuf::from("."))
}

/// The file a capability is loaded from.
pub fn file_name(name: &str) -> String {
    format!("libdmcap_{name}.so")
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The first `libdmcap_NAME.so` along the search path (the last directory's path if none has it).
fn find(search: &[PathBuf], name: &str) -> PathBuf {
    let file = file_name(name);
    let mut paths = search.iter().map(|d| d.join(&file));
    let last = search.last().map(|d| d.join(&file)).unwrap_or_else(|| PathBuf::from(&file));
    paths.find(|p| p.is_file()).unwrap_or(last)
}

/// A number of milliseconds from a `[capabilities]` key.
fn setting_ms(cfg: &CapabilitiesConfig, key: &str, default: u64) -> Duration {
    let ms = cfg.settings.get(key).and_then(toml::Value::as_integer).and_then(|n| u64::try_from(n).ok());
    Duration::from_millis(ms.unwrap_or(default).max(1))
}

/// A capability's `[capabilities.NAME]` table as JSON text (`{}` when absent).
fn config_json(cfg: &CapabilitiesConfig, name: &str) -> String {
    match cfg.settings.get(name) {
        Some(v @ toml::Value::Table(_)) => serde_json::to_string(v).unwrap_or_else(|_| "{}".into()),
        _ => "{}".into(),
    }
}

/// What starting a capability needs; the registry keeps it for reloads.
pub struct Starter {
    /// The `[capabilities]` section in force.
    pub cfg: CapabilitiesConfig,
    hub: Weak<Hub>,
    rt: tokio::runtime::Handle,
    data_root: PathBuf,
    store: Store,
}

impl Starter {
    /// Where `libdmcap_NAME.so` is found now.
    pub fn path(&self, name: &str) -> PathBuf {
        find(&self.cfg.search_path(default_dir()), name)
    }

    /// Where this server keeps private copies of reloaded plugin files.
    pub fn reload_dir(&self) -> PathBuf {
        self.data_root.join(".reload")
    }

    /// Opens, checks and starts `name` from `path`.
    pub fn start(&self, name: &str, path: &Path) -> Result<Plugin, LoadError> {
        let host = PluginHost {
            name: name.to_owned(),
            hub: self.hub.clone(),
            rt: self.rt.clone(),
            config: config_json(&self.cfg, name),
            data_dir: self.cfg.files_dir.clone().unwrap_or_else(|| self.data_root.clone()).join(name),
            store: self.store.clone(),
        };
        start(name, path, host)
    }

    /// The same, with another `[capabilities]` section.
    pub fn with_config(&self, cfg: CapabilitiesConfig) -> Starter {
        Starter {
            cfg,
            hub: self.hub.clone(),
            rt: self.rt.clone(),
            data_root: self.data_root.clone(),
            store: self.store.clone(),
        }
    }

    /// `name`'s config table as JSON.
    pub fn config_json(&self, name: &str) -> String {
        config_json(&self.cfg, name)
    }

    /// The runtime the registry's tasks run on.
    pub fn rt(&self) -> &tokio::runtime::Handle {
        &self.rt
    }
}

/// Loads the enabled capabilities (see the module docs); never fails as a whole.
pub fn load(cfg: &CapabilitiesConfig, hub: Weak<Hub>, rt: tokio::runtime::Handle) -> Registry {
    let Some(server) = hub.upgrade() else { return Registry::empty(rt) };
    let starter = Starter {
        cfg: cfg.clone(),
        data_root: server.data_dir().join("capabilities"),
        store: server.store().clone(),
        hub,
        rt,
    };
    drop(server);
    let timeout = setting_ms(cfg, "command_timeout_ms", 10_000);
    let mut caps: Vec<Plugin> = Vec::new();
    for name in &cfg.enabled {
        if !valid_name(name) {
            warn!("capability {name:?} skipped: a name has only letters, digits, '_' and '-'");
            continue;
        }
        if caps.iter().any(|p| p.info().name == *name) {
            warn!("capability {name} skipped: enabled twice");
            continue;
        }
        let path = starter.path(name);
        match starter.start(name, &path) {
            Ok(plugin) => {
                info!(version = %plugin.info().version, "capability {name} loaded from {}", path.display());
                caps.push(plugin);
            }
            Err(e) => warn!(path = %path.display(), "capability {name} skipped: {e}"),
        }
    }
    Registry::new(starter, timeout, caps)
}

fn start(name: &str, path: &Path, host: PluginHost) -> Result<Plugin, LoadError> {
    let lib = Library::open(path)?;
    if lib.name() != name {
        return Err(LoadError::WrongName(lib.name()));
    }
    std::fs::create_dir_all(&host.data_dir)
        .map_err(|e| LoadError::InitFailed(format!("cannot create {}: {e}", host.data_dir.display())))?;
    lib.start(host)
}

/// One line per `libdmcap_*.so` file in `dir`: file, name, version, the plugin-api
/// it was built against, and whether it starts. Each plugin's init runs once, dry:
/// with its `[capabilities.NAME]` table, a scratch data directory and no server
/// behind its host (it sees nobody online), then its shutdown hook.
pub fn describe_dir(dir: &Path, cfg: &CapabilitiesConfig) -> Vec<String> {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                let n = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                n.starts_with("libdmcap_") && n.ends_with(".so")
            })
            .collect(),
        Err(e) => return vec![format!("{}: cannot read the directory: {e}", dir.display())],
    };
    files.sort();
    if files.is_empty() {
        return vec![format!("no libdmcap_*.so files in {}", dir.display())];
    }
    let rt = match tokio::runtime::Builder::new_current_thread().build() {
        Ok(rt) => rt,
        Err(e) => return vec![format!("cannot start a runtime for the dry runs: {e}")],
    };
    let scratch = std::env::temp_dir().join(format!("dmconnect-dry-run-{}", std::process::id()));
    let store = match Store::open(&scratch.join("store")) {
        Ok(s) => s,
        Err(e) => return vec![format!("cannot open a scratch store for the dry runs: {e}")],
    };
    let lines = files.iter().map(|p| describe_file(p, cfg, rt.handle(), &scratch, &store)).collect();
    let _ = std::fs::remove_dir_all(&scratch);
    lines
}

fn describe_file(
    path: &Path,
    cfg: &CapabilitiesConfig,
    rt: &tokio::runtime::Handle,
    scratch: &Path,
    store: &Store,
) -> String {
    let file = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let expected = file.trim_start_matches("libdmcap_").trim_end_matches(".so");
    let lib = match Library::open(path) {
        Ok(lib) => lib,
        Err(e) => return format!("{file}  -  -  would not load: {e}"),
    };
    let head = format!("{file}  {}  {}  plugin-api {}", lib.name(), lib.version(), lib.api_version());
    if lib.name() != expected {
        return format!("{head}  would not load: {}", LoadError::WrongName(lib.name()));
    }
    let host = PluginHost {
        name: expected.to_owned(),
        hub: Weak::new(),
        rt: rt.clone(),
        config: config_json(cfg, expected),
        data_dir: scratch.join(expected),
        store: store.clone(),
    };
    match start(expected, path, host) {
        Ok(plugin) => {
            let _ = plugin.shutdown();
            format!("{head}  starts")
        }
        Err(e) => format!("{head}  would not start: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_tables_become_json_and_keys_are_read() {
        let cfg: crate::config::Config = toml::from_str(
            "[capabilities]\ncommand_timeout_ms = 250\n[capabilities.http_file_upload]\nmax_size = 10\nttl_secs = 5\n",
        )
        .unwrap();
        let json: serde_json::Value =
            serde_json::from_str(&config_json(&cfg.capabilities, "http_file_upload")).unwrap();
        assert_eq!(json, serde_json::json!({"max_size": 10, "ttl_secs": 5}));
        assert_eq!(config_json(&cfg.capabilities, "status"), "{}");
        assert_eq!(config_json(&cfg.capabilities, "command_timeout_ms"), "{}");
        assert_eq!(setting_ms(&cfg.capabilities, "command_timeout_ms", 1), Duration::from_millis(250));
        assert_eq!(setting_ms(&cfg.capabilities, "other_ms", 7), Duration::from_millis(7));
    }

    #[test]
    fn names_and_files() {
        assert!(valid_name("http_file_upload") && valid_name("my-cap"));
        assert!(!valid_name("") && !valid_name("../x") && !valid_name("a b"));
        assert_eq!(file_name("status"), "libdmcap_status.so");
    }

    #[test]
    fn describing_a_directory() {
        let dir = std::env::temp_dir().join(format!("dmc-describe-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cfg = CapabilitiesConfig::default();
        assert_eq!(describe_dir(&dir, &cfg), vec![format!("no libdmcap_*.so files in {}", dir.display())]);
        std::fs::write(dir.join("libdmcap_junk.so"), b"junk").unwrap();
        std::fs::write(dir.join("readme.txt"), b"not a plugin file name").unwrap();
        let lines = describe_dir(&dir, &cfg);
        assert_eq!(lines.len(), 1);
        assert!(
            lines[0].starts_with("libdmcap_junk.so  -  -  would not load: not a DMconnect capability plugin"),
            "{lines:?}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
