//! The server's services handed to one capability (plugin-api's `HostServices`).

use crate::hub::Hub;
use crate::store::Store;
use plugin_api::loader::HostServices;
use plugin_api::{DeliveryKind, Level};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::runtime::{Handle, RuntimeFlavor};
use tracing::{debug, error, info, trace, warn};

/// How long a blocking `s2s_request` from a plugin waits at most (federation has its own, shorter timeouts).
const S2S_WAIT: Duration = Duration::from_secs(30);

/// One capability's view of the server: its name is its storage namespace and log tag.
pub struct PluginHost {
    /// The capability's name.
    pub name: String,
    /// The server (weak: the hub owns the registry that owns this).
    pub hub: Weak<Hub>,
    /// The runtime that runs federation requests.
    pub rt: Handle,
    /// Its `[capabilities.NAME]` table as JSON.
    pub config: String,
    /// Its data directory.
    pub data_dir: PathBuf,
    /// The server's storage (its own, scratch one in a dry run).
    pub store: Store,
}

impl PluginHost {
    fn hub(&self) -> Result<Arc<Hub>, String> {
        self.hub.upgrade().ok_or_else(|| "the server is shutting down".to_owned())
    }

    /// After a committed write: the other nodes' copies of this capability re-read `key`.
    fn changed<T>(&self, key: &str, res: Result<T, String>) -> Result<T, String> {
        if res.is_ok() {
            if let Some(h) = self.hub.upgrade() {
                h.bus().kv_changed(&self.name, key);
            }
        }
        res
    }
}

/// Waits for a result the runtime produces, without starving a runtime worker.
fn wait<T>(rx: std::sync::mpsc::Receiver<T>) -> Option<T> {
    let recv = || rx.recv_timeout(S2S_WAIT).ok();
    // On a multi-thread worker (a hook called from async code), hand the worker's
    // other tasks to another thread first; blocking-pool threads just wait.
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => tokio::task::block_in_place(recv),
        _ => recv(),
    }
}

impl HostServices for PluginHost {
    fn send_to_account(&self, account: &str, text: &str) -> bool {
        self.hub.upgrade().is_some_and(|h| h.send_to_account(account, text))
    }

    fn send_to_session(&self, session_id: u64, text: &str) -> bool {
        self.hub.upgrade().is_some_and(|h| h.send_to_session(session_id, text))
    }

    fn is_online(&self, account: &str) -> bool {
        self.hub.upgrade().is_some_and(|h| h.is_online(account))
    }

    fn session_ips(&self, account: &str) -> Vec<IpAddr> {
        self.hub.upgrade().map(|h| h.session_ips(account)).unwrap_or_default()
    }

    fn account_exists(&self, account: &str) -> Result<bool, String> {
        self.store.account_exists(account).map_err(|e| e.to_string())
    }

    fn host_name(&self) -> String {
        self.hub.upgrade().map(|h| h.host().to_owned()).unwrap_or_default()
    }

    fn main_port(&self) -> u16 {
        self.hub.upgrade().map(|h| h.listen_port()).unwrap_or(0)
    }

    fn data_dir(&self) -> PathBuf {
        self.data_dir.clone()
    }

    fn config_json(&self) -> String {
        self.config.clone()
    }

    fn kv_get(&self, key: &str) -> Result<Option<String>, String> {
        self.store.kv_get(&self.name, key).map_err(|e| e.to_string())
    }

    fn kv_set(&self, key: &str, value: &str) -> Result<(), String> {
        self.changed(key, self.store.kv_set(&self.name, key, value).map_err(|e| e.to_string()))
    }

    fn kv_delete(&self, key: &str) -> Result<bool, String> {
        self.changed(key, self.store.kv_delete(&self.name, key).map_err(|e| e.to_string()))
    }

    fn kv_list(&self, prefix: &str) -> Result<Vec<(String, String)>, String> {
        self.store.kv_list(&self.name, prefix).map_err(|e| e.to_string())
    }

    fn kv_increment(&self, key: &str, delta: i64) -> Result<i64, String> {
        match self.changed(key, self.store.kv_increment(&self.name, key, delta).map_err(|e| e.to_string()))? {
            Some(n) => Ok(n),
            None => Err(format!("the value of {key:?} is not an integer (or would overflow)")),
        }
    }

    fn kv_compare_and_set(&self, key: &str, expected: Option<&str>, new: Option<&str>) -> Result<bool, String> {
        let res = self.store.kv_compare_and_set(&self.name, key, expected, new).map_err(|e| e.to_string());
        match res {
            Ok(true) => self.changed(key, Ok(true)),
            other => other,
        }
    }

    fn allowed(&self, kind: DeliveryKind, from: &str, to: &str) -> bool {
        self.hub.upgrade().is_none_or(|h| {
            let caps = h.caps();
            !caps.filters_delivery() || caps.allow(kind, from, to)
        })
    }

    fn s2s_request(&self, host: &str, json: &str) -> Result<String, String> {
        let msg: serde_json::Value = serde_json::from_str(json).map_err(|e| format!("invalid JSON: {e}"))?;
        if !msg.is_object() {
            return Err("a server-to-server message must be a JSON object".into());
        }
        let hub = self.hub()?;
        let host = host.to_owned();
        let (tx, rx) = std::sync::mpsc::channel();
        self.rt.spawn(async move {
            let _ = tx.send(hub.federation().request(&host, msg).await);
        });
        match wait(rx) {
            Some(Ok(answer)) => Ok(answer.to_string()),
            Some(Err(e)) => Err(e),
            None => Err("no answer in time".into()),
        }
    }

    fn s2s_send(&self, host: &str, json: &str) {
        let msg: serde_json::Value = match serde_json::from_str(json) {
            Ok(v @ serde_json::Value::Object(_)) => v,
            _ => return warn!(capability = %self.name, "s2s_send: not a JSON object; dropped"),
        };
        let Ok(hub) = self.hub() else { return };
        // The per-peer ordered queue: an online update cannot overtake an offline one.
        hub.federation().post(host, msg);
    }

    fn log(&self, level: Level, message: &str) {
        let cap = self.name.as_str();
        match level {
            Level::Error => error!(capability = cap, "{message}"),
            Level::Warn => warn!(capability = cap, "{message}"),
            Level::Info => info!(capability = cap, "{message}"),
            Level::Debug => debug!(capability = cap, "{message}"),
            Level::Trace => trace!(capability = cap, "{message}"),
        }
    }
}
