//! Reload without restart (SIGHUP, `dmconnect reload`): re-read the config file and
//! apply what can change live (`[limits]`, `[capabilities]`, TLS, admins, log level); a bad file is refused
//! and the old settings stay.

use crate::config::Config;
use crate::discover::Source;
use crate::hub::Hub;
use crate::limits::Budgets;
use crate::logging::LogHandle;
use std::sync::{Arc, Mutex};
use tracing::{info, warn};

/// Keys applied live besides whole sections (`[limits]`, `[capabilities]`); every other
/// changed key is reported as needing a restart.
const LIVE: &[&str] = &["server.tls_cert", "server.tls_key", "server.admins", "server.log_level"];

/// Sections whose every key applies live.
const LIVE_SECTIONS: &[&str] = &["limits.", "capabilities."];

/// Re-reads the config of a running server.
pub struct Reloader {
    source: Source,
    overrides: Box<dyn Fn(&mut Config) + Send + Sync>,
    current: Mutex<Config>,
    hub: Arc<Hub>,
    budgets: Arc<Budgets>,
    log: Option<LogHandle>,
}

impl Reloader {
    /// `overrides` re-applies the command-line flags to every freshly read config;
    /// `running` gives the hub and the budgets to change.
    pub fn new(
        source: Source,
        overrides: Box<dyn Fn(&mut Config) + Send + Sync>,
        current: Config,
        running: &crate::server::Running,
        log: Option<LogHandle>,
    ) -> Arc<Reloader> {
        let (hub, budgets) = (running.hub.clone(), running.budgets.clone());
        Arc::new(Reloader { source, overrides, current: Mutex::new(current), hub, budgets, log })
    }

    fn current(&self) -> Config {
        self.current.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Reloads; on success returns one line per change, on failure the reason (nothing applied).
    pub async fn reload(&self) -> Result<Vec<String>, String> {
        let res = self.try_reload().await;
        match &res {
            Ok(changes) if changes.is_empty() => info!(source = %self.source, "reload: nothing changed"),
            Ok(changes) => changes.iter().for_each(|c| info!("reload: {c}")),
            Err(e) => warn!("reload refused, keeping the running config: {e}"),
        }
        res
    }

    async fn try_reload(&self) -> Result<Vec<String>, String> {
        let mut new = crate::discover::load(&self.source)?;
        (self.overrides)(&mut new);
        new.check()?;
        let old = self.current();
        // Everything that can fail is prepared before anything is applied.
        let tls = if !new.server.tls_listen.is_empty() && !old.server.tls_listen.is_empty() {
            let s = &new.server;
            Some(crate::transport::tls::TlsAcceptor::from_pem_files(s.tls_cert.as_ref(), s.tls_key.as_ref())?)
        } else {
            None
        };
        LogHandle::check(&new.server.log_level)?;
        let admins = self.admins_for(&new).await?;

        let mut changes = Vec::new();
        if let Some(acceptor) = tls {
            crate::transport::tls::install(acceptor);
            changes.push(format!("TLS certificate reloaded from {}", new.server.tls_cert));
        }
        if new.server.log_level != old.server.log_level {
            if crate::logging::env_overrides() {
                changes.push("log_level changed but RUST_LOG is set and wins".into());
            } else if let Some(log) = &self.log {
                log.set(&new.server.log_level)?;
                changes.push(format!("log_level = {:?}", new.server.log_level));
            }
        }
        if new.server.admins != old.server.admins {
            changes.push(format!("admins = {:?} (config)", new.server.admins));
        }
        self.hub.set_admins(admins);
        changes.extend(self.apply_limits(&old, &new));
        // Capabilities apply live: newly enabled start, removed stop, changed files or tables reload.
        changes.extend(self.hub.caps().apply_config(&new.capabilities).await);
        for (key, ..) in changed_keys(&old, &new) {
            if !LIVE.contains(&key.as_str()) && !LIVE_SECTIONS.iter().any(|s| key.starts_with(s)) {
                changes.push(format!("{key} changed: needs a restart to take effect"));
            }
        }
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = new;
        Ok(changes)
    }

    /// `[limits]` applies to every check from now on (open sessions included; the
    /// outbound queue bounds to sessions opened from now on).
    fn apply_limits(&self, old: &Config, new: &Config) -> Vec<String> {
        if old.limits == new.limits {
            return Vec::new();
        }
        self.budgets.apply(&new.limits);
        let mut changes: Vec<String> = changed_keys(old, new)
            .into_iter()
            .filter(|(k, ..)| k.starts_with("limits."))
            .map(|(k, was, now)| format!("{k} = {now} (was {was})"))
            .collect();
        if new.limits.max_connections != old.limits.max_connections {
            match crate::rlimit::raise_nofile(new.limits.max_connections) {
                Ok(m) => changes.push(m),
                Err(m) => changes.push(format!("warning: {m}")),
            }
        }
        changes
    }

    async fn admins_for(&self, cfg: &Config) -> Result<Vec<String>, String> {
        let mut admins = cfg.server.admins.clone();
        admins.extend(self.hub.store().run(|s| s.admins()).await.map_err(|e| e.to_string())?);
        Ok(admins)
    }

    /// Re-reads the stored administrators (after `dmconnect admin add/del`).
    pub async fn refresh_admins(&self) -> Result<(), String> {
        let admins = self.admins_for(&self.current()).await?;
        self.hub.set_admins(admins);
        Ok(())
    }
}

/// `section.key` names whose values differ, with the old and the new value as TOML
/// (`-` when absent; capability tables count as one key each).
fn changed_keys(old: &Config, new: &Config) -> Vec<(String, String, String)> {
    let table = |c: &Config| c.to_toml().ok().and_then(|t| t.parse::<toml::Table>().ok()).unwrap_or_default();
    let (old, new) = (table(old), table(new));
    let mut keys = Vec::new();
    let sections: std::collections::BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    for section in sections {
        let empty = toml::Table::new();
        let o = old.get(section).and_then(|v| v.as_table()).unwrap_or(&empty);
        let n = new.get(section).and_then(|v| v.as_table()).unwrap_or(&empty);
        let names: std::collections::BTreeSet<&String> = o.keys().chain(n.keys()).collect();
        for k in names {
            if o.get(k) != n.get(k) {
                let show = |v: Option<&toml::Value>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
                keys.push((format!("{section}.{k}"), show(o.get(k)), show(n.get(k))));
            }
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_keys_are_named() {
        let old = Config::default();
        let mut new = old.clone();
        new.server.log_level = "debug".into();
        new.limits.max_connections = 5;
        let keys: Vec<String> =
            changed_keys(&old, &new).into_iter().map(|(k, was, now)| format!("{k} {was} {now}")).collect();
        assert_eq!(keys, vec!["limits.max_connections 20000 5", "server.log_level \"info\" \"debug\""]);
    }
}
