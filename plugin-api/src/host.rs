//! [`Host`]: the server's services as a capability sees them, in plain Rust types.

use crate::ffi::FfiHostBox;
use crate::types::{DeliveryKind, Level};
use abi_stable::std_types::{RStr, RString};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// The server, seen from a capability. Cheap to clone; every method may be
/// called from any thread. Methods marked *blocking* wait for storage or the
/// network: call them from commands, s2s, HTTP and tick handlers, not from the
/// delivery filter or the presence hook.
#[derive(Clone)]
pub struct Host {
    inner: Arc<FfiHostBox>,
    name: &'static str,
}

fn rs(s: &str) -> RStr<'_> {
    RStr::from_str(s)
}

impl Host {
    /// Wraps the host object handed over by the server.
    pub(crate) fn new(inner: FfiHostBox, name: &'static str) -> Self {
        Host { inner: Arc::new(inner), name }
    }

    /// Sends a line (or several joined by `\n`) to every session of an account; false if it has none.
    pub fn send_to_account(&self, account: &str, text: &str) -> bool {
        self.inner.send_to_account(rs(account), rs(text))
    }

    /// Sends a line to one session (see [`crate::Caller::session_id`]); false if it is gone.
    pub fn send_to_session(&self, session_id: u64, text: &str) -> bool {
        self.inner.send_to_session(session_id, rs(text))
    }

    /// Is any session of this local account logged in?
    pub fn is_online(&self, account: &str) -> bool {
        self.inner.is_online(rs(account))
    }

    /// Distinct peer IPs of the account's sessions, sorted.
    pub fn session_ips(&self, account: &str) -> Vec<IpAddr> {
        let mut ips: Vec<IpAddr> = self.inner.session_ips(rs(account)).iter().filter_map(|s| s.parse().ok()).collect();
        ips.sort();
        ips.dedup();
        ips
    }

    /// Does this local account exist? *Blocking.*
    pub fn account_exists(&self, account: &str) -> Result<bool, String> {
        self.inner.account_exists(rs(account)).into_result().map_err(RString::into_string)
    }

    /// This server's advertised host name.
    pub fn host_name(&self) -> String {
        self.inner.host_name().into_string()
    }

    /// This server's main (plain) port.
    pub fn main_port(&self) -> u16 {
        self.inner.main_port()
    }

    /// A directory for this capability's files (created by the server).
    pub fn data_dir(&self) -> PathBuf {
        PathBuf::from(self.inner.data_dir().into_string())
    }

    /// This capability's `[capabilities.NAME]` table as JSON text (`{}` when absent).
    pub fn config_json(&self) -> String {
        self.inner.config_json().into_string()
    }

    /// This capability's config table, deserialized (missing keys take serde defaults).
    /// Errors name the table and key, e.g. `[capabilities.NAME] max_size: expected an integer, found a string`.
    pub fn config<T: serde::de::DeserializeOwned>(&self) -> Result<T, String> {
        let json = self.config_json();
        serde_json::from_str(&json).map_err(|e| crate::config_error::explain(self.name, &json, &e))
    }

    /// A stored value of this capability. *Blocking.*
    pub fn kv_get(&self, key: &str) -> Result<Option<String>, String> {
        self.inner
            .kv_get(rs(key))
            .into_result()
            .map(|o| o.into_option().map(RString::into_string))
            .map_err(RString::into_string)
    }

    /// Stores a value (durably, before returning). *Blocking.*
    pub fn kv_set(&self, key: &str, value: &str) -> Result<(), String> {
        self.inner.kv_set(rs(key), rs(value)).into_result().map_err(RString::into_string)
    }

    /// Deletes a value; `Ok(false)` if there was none. *Blocking.*
    pub fn kv_delete(&self, key: &str) -> Result<bool, String> {
        self.inner.kv_delete(rs(key)).into_result().map_err(RString::into_string)
    }

    /// All values whose keys start with `prefix`, by key. *Blocking.*
    pub fn kv_list(&self, prefix: &str) -> Result<Vec<(String, String)>, String> {
        self.inner
            .kv_list(rs(prefix))
            .into_result()
            .map(|v| v.into_iter().map(|t| (t.0.into_string(), t.1.into_string())).collect())
            .map_err(RString::into_string)
    }

    /// Adds `delta` to the integer stored at `key` (absent counts as 0) in one
    /// transaction, and returns the new value: safe when sessions race. *Blocking.*
    /// Fails if the stored value is not an integer.
    pub fn kv_increment(&self, key: &str, delta: i64) -> Result<i64, String> {
        self.inner.kv_increment(rs(key), delta).into_result().map_err(RString::into_string)
    }

    /// Sets `key` to `new` (`None` deletes it) only if its value is `expected`
    /// (`None` = absent), in one transaction; `Ok(true)` if it did. *Blocking.*
    pub fn kv_compare_and_set(&self, key: &str, expected: Option<&str>, new: Option<&str>) -> Result<bool, String> {
        let (e, n) = (expected.map(RStr::from_str).into(), new.map(RStr::from_str).into());
        self.inner.kv_compare_and_set(rs(key), e, n).into_result().map_err(RString::into_string)
    }

    /// Would the server's delivery filters (e.g. `ignore`) let a line of `kind` from
    /// `from` (`user` or `user@host`) reach local account `to`? Quick.
    pub fn allowed(&self, kind: DeliveryKind, from: &str, to: &str) -> bool {
        self.inner.allowed(kind.into(), rs(from), rs(to))
    }

    /// A request to another host (JSON object text in, JSON text out); the server
    /// adds `from_host` and `msg_id`. Fails when federation is off or the host is unreachable. *Blocking.*
    pub fn s2s_request(&self, host: &str, json: &str) -> Result<String, String> {
        self.inner.s2s_request(rs(host), rs(json)).into_result().map(RString::into_string).map_err(RString::into_string)
    }

    /// Sends a message to another host without waiting; failures are logged by the server.
    pub fn s2s_send(&self, host: &str, json: &str) {
        self.inner.s2s_send(rs(host), rs(json))
    }

    /// Writes a log line through the server's logger, tagged with the capability's name.
    pub fn log(&self, level: Level, message: &str) {
        self.inner.log(level.to_u8(), rs(message))
    }

    /// Logs at error level.
    pub fn error(&self, message: &str) {
        self.log(Level::Error, message)
    }

    /// Logs at warn level.
    pub fn warn(&self, message: &str) {
        self.log(Level::Warn, message)
    }

    /// Logs at info level.
    pub fn info(&self, message: &str) {
        self.log(Level::Info, message)
    }

    /// Logs at debug level.
    pub fn debug(&self, message: &str) {
        self.log(Level::Debug, message)
    }
}
