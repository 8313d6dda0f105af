//! Replacing capabilities while the server runs: `/reload_capability NAME`
//! and a re-read `[capabilities]` section (SIGHUP). A new copy is loaded from
//! a private copy of its file (the dynamic loader hands out an already open
//! library again for the same path), started, and swapped in; calls running in
//! the old copy finish there, then it gets `shutdown()`. A failure leaves the
//! old copy serving. Libraries are never unmapped, so every reload keeps the
//! old copy's code in memory (see docs/capabilities.md).

use super::cap::Cap;
use super::loader::Starter;
use super::registry::Registry;
use crate::config::CapabilitiesConfig;
use crate::sync::lock;
use plugin_api::loader::{LoadError, Plugin};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;
use tracing::info;

/// A plugin file as it was when loaded, and its config table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    path: PathBuf,
    modified: Option<SystemTime>,
    len: u64,
    config: String,
}

impl Stamp {
    /// The file `starter` would load `name` from now.
    pub fn of(starter: &Starter, name: &str) -> Stamp {
        let path = starter.path(name);
        let meta = std::fs::metadata(&path).ok();
        Stamp {
            modified: meta.as_ref().and_then(|m| m.modified().ok()),
            len: meta.map_or(0, |m| m.len()),
            config: starter.config_json(name),
            path,
        }
    }
}

/// Starts `name` from a private copy of its current file.
async fn start_copy(starter: Arc<Starter>, name: String) -> Result<Plugin, LoadError> {
    tokio::task::spawn_blocking(move || {
        let path = starter.path(&name);
        if !path.is_file() {
            return Err(LoadError::Missing);
        }
        let dir = starter.reload_dir();
        let stamp = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let copy = dir.join(format!("libdmcap_{name}.{stamp}.so"));
        std::fs::create_dir_all(&dir)
            .and_then(|_| std::fs::copy(&path, &copy))
            .map_err(|e| LoadError::NotAPlugin(format!("cannot copy {}: {e}", path.display())))?;
        let started = starter.start(&name, &copy);
        // The mapping outlives the file: nothing needs the copy once it is open.
        let _ = std::fs::remove_file(&copy);
        started
    })
    .await
    .map_err(|e| LoadError::InitFailed(e.to_string()))?
}

impl Registry {
    fn starter(&self) -> Option<Arc<Starter>> {
        lock(&self.starter).clone()
    }

    /// `/reload_capability NAME`: one line saying what happened.
    pub(super) async fn reload_one(&self, name: &str) -> String {
        let _one_at_a_time = self.reloading.lock().await;
        let inner = self.snapshot();
        let Some(old) = inner.cap(name).cloned() else {
            return format!("Capability {name} not reloaded: it is not loaded.");
        };
        let old_version = old.info.version.clone();
        let Some(starter) = self.starter() else {
            return format!("Capability {name} not reloaded: the server is stopping; {old_version} keeps serving.");
        };
        match start_copy(starter.clone(), name.to_owned()).await {
            Ok(plugin) => {
                let new = Arc::new(Cap::new(plugin));
                let caps =
                    inner.caps.iter().map(|c| if c.info.name == name { new.clone() } else { c.clone() }).collect();
                self.swap(caps);
                self.start_tick(&new);
                self.retire(old);
                lock(&self.stamps).insert(name.to_owned(), Stamp::of(&starter, name));
                let line = format!("Capability {name} reloaded: {old_version} -> {}.", new.info.version);
                info!("{line}");
                line
            }
            Err(e) => format!("Capability {name} not reloaded: {e}; {old_version} keeps serving."),
        }
    }

    /// A re-read `[capabilities]`: starts newly enabled ones, stops removed ones,
    /// reloads those whose file or config table changed. One line per change.
    pub(super) async fn reconfigure(&self, cfg: &CapabilitiesConfig) -> Vec<String> {
        let Some(old_starter) = self.starter() else { return Vec::new() };
        let mut cfg = cfg.clone();
        // A re-read file without `dir` keeps the directory found at startup.
        if cfg.dir.is_none() {
            cfg.dir.clone_from(&old_starter.cfg.dir);
        }
        let cfg = &cfg;
        let starter = Arc::new(old_starter.with_config(cfg.clone()));
        *lock(&self.starter) = Some(starter.clone());
        let mut lines = Vec::new();
        let before = self.snapshot();
        for c in before.caps.iter().filter(|c| !cfg.enabled.contains(&c.info.name)) {
            let _one_at_a_time = self.reloading.lock().await;
            let caps = self.snapshot().caps.iter().filter(|x| x.info.name != c.info.name).cloned().collect();
            self.swap(caps);
            self.stop_tick(&c.info.name);
            self.retire(c.clone());
            lock(&self.stamps).remove(&c.info.name);
            lines.push(format!("Capability {} disabled.", c.info.name));
        }
        for (i, name) in cfg.enabled.iter().enumerate() {
            if cfg.enabled[..i].contains(name) {
                continue;
            }
            let known = lock(&self.stamps).get(name).cloned();
            match known {
                Some(s) if s == Stamp::of(&starter, name) => {}
                Some(_) => lines.push(self.reload_one(name).await),
                None => lines.push(self.enable(&starter, name).await),
            }
        }
        // Keep `/list_capabilities` in the configured order.
        let mut caps = self.snapshot().caps.clone();
        caps.sort_by_key(|c| cfg.enabled.iter().position(|n| *n == c.info.name));
        self.swap(caps);
        for l in &lines {
            info!("{l}");
        }
        lines
    }

    async fn enable(&self, starter: &Arc<Starter>, name: &str) -> String {
        let _one_at_a_time = self.reloading.lock().await;
        match start_copy(starter.clone(), name.to_owned()).await {
            Ok(plugin) => {
                let new = Arc::new(Cap::new(plugin));
                let mut caps = self.snapshot().caps.clone();
                caps.push(new.clone());
                self.swap(caps);
                self.start_tick(&new);
                lock(&self.stamps).insert(name.to_owned(), Stamp::of(starter, name));
                format!("Capability {name} enabled: {}.", new.info.version)
            }
            Err(e) => format!("Capability {name} not enabled: {e}."),
        }
    }
}
