//! Unit tests of capabilities: an in-memory [`HostServices`] and
//! [`start_in_process`]; no server, no sockets. End-to-end tests use the real
//! server and the real `.so` files.

use crate::loader::{host_box, HostServices, LoadError, Plugin};
use crate::types::Level;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// What the fake host holds; shared between clones so a test can look inside.
#[derive(Default)]
pub struct FakeState {
    /// Accounts that exist.
    pub accounts: BTreeSet<String>,
    /// Online accounts and their session IPs.
    pub online: HashMap<String, Vec<IpAddr>>,
    /// Stored values.
    pub kv: BTreeMap<String, String>,
    /// Lines sent: (account or `#session`, text).
    pub sent: Vec<(String, String)>,
    /// Server-to-server messages sent: (host, json).
    pub s2s: Vec<(String, String)>,
    /// Canned answers to s2s requests by host (`Err` when absent).
    pub s2s_answers: HashMap<String, String>,
    /// Log lines.
    pub logs: Vec<(Level, String)>,
    /// (to, from) pairs the fake delivery filter refuses.
    pub blocked: BTreeSet<(String, String)>,
}

/// A fake host for unit tests.
#[derive(Clone)]
pub struct FakeHost {
    /// The shared state.
    pub state: Arc<Mutex<FakeState>>,
    /// Host name.
    pub host: String,
    /// Config table as JSON.
    pub config: String,
    /// Data directory.
    pub dir: PathBuf,
}

impl FakeHost {
    /// A fake host called `here.test` with these accounts and an empty config.
    pub fn new(accounts: &[&str]) -> FakeHost {
        let state = FakeState { accounts: accounts.iter().map(|s| s.to_string()).collect(), ..Default::default() };
        FakeHost {
            state: Arc::new(Mutex::new(state)),
            host: "here.test".into(),
            config: "{}".into(),
            dir: std::env::temp_dir(),
        }
    }

    /// Locks the state.
    pub fn lock(&self) -> std::sync::MutexGuard<'_, FakeState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes the lines sent so far.
    pub fn take_sent(&self) -> Vec<(String, String)> {
        std::mem::take(&mut self.lock().sent)
    }
}

impl HostServices for FakeHost {
    fn send_to_account(&self, account: &str, text: &str) -> bool {
        let mut s = self.lock();
        let online = s.online.contains_key(account);
        if online {
            s.sent.push((account.into(), text.into()));
        }
        online
    }
    fn send_to_session(&self, session_id: u64, text: &str) -> bool {
        self.lock().sent.push((format!("#{session_id}"), text.into()));
        true
    }
    fn is_online(&self, account: &str) -> bool {
        self.lock().online.contains_key(account)
    }
    fn session_ips(&self, account: &str) -> Vec<IpAddr> {
        self.lock().online.get(account).cloned().unwrap_or_default()
    }
    fn account_exists(&self, account: &str) -> Result<bool, String> {
        Ok(self.lock().accounts.contains(account))
    }
    fn host_name(&self) -> String {
        self.host.clone()
    }
    fn main_port(&self) -> u16 {
        42439
    }
    fn data_dir(&self) -> PathBuf {
        self.dir.clone()
    }
    fn config_json(&self) -> String {
        self.config.clone()
    }
    fn kv_get(&self, key: &str) -> Result<Option<String>, String> {
        Ok(self.lock().kv.get(key).cloned())
    }
    fn kv_set(&self, key: &str, value: &str) -> Result<(), String> {
        self.lock().kv.insert(key.into(), value.into());
        Ok(())
    }
    fn kv_delete(&self, key: &str) -> Result<bool, String> {
        Ok(self.lock().kv.remove(key).is_some())
    }
    fn kv_list(&self, prefix: &str) -> Result<Vec<(String, String)>, String> {
        Ok(self.lock().kv.iter().filter(|(k, _)| k.starts_with(prefix)).map(|(k, v)| (k.clone(), v.clone())).collect())
    }
    fn kv_increment(&self, key: &str, delta: i64) -> Result<i64, String> {
        let mut s = self.lock();
        let old: i64 = s.kv.get(key).map_or(Ok(0), |v| v.parse()).map_err(|_| format!("{key:?} is not an integer"))?;
        let new = old.checked_add(delta).ok_or("overflow")?;
        s.kv.insert(key.into(), new.to_string());
        Ok(new)
    }
    fn kv_compare_and_set(&self, key: &str, expected: Option<&str>, new: Option<&str>) -> Result<bool, String> {
        let mut s = self.lock();
        if s.kv.get(key).map(String::as_str) != expected {
            return Ok(false);
        }
        match new {
            Some(v) => s.kv.insert(key.into(), v.into()),
            None => s.kv.remove(key),
        };
        Ok(true)
    }
    fn allowed(&self, _kind: crate::DeliveryKind, from: &str, to: &str) -> bool {
        !self.lock().blocked.contains(&(to.to_owned(), from.to_owned()))
    }
    fn s2s_request(&self, host: &str, json: &str) -> Result<String, String> {
        let mut s = self.lock();
        s.s2s.push((host.into(), json.into()));
        s.s2s_answers.get(host).cloned().ok_or_else(|| format!("{host} is unreachable"))
    }
    fn s2s_send(&self, host: &str, json: &str) {
        self.lock().s2s.push((host.into(), json.into()));
    }
    fn log(&self, level: Level, message: &str) {
        self.lock().logs.push((level, message.into()));
    }
}

/// Starts a capability from its constructor inside this process, through the
/// same FFI objects a loaded library uses.
pub fn start_in_process<F, R, H>(ctor: F, host: H) -> Result<Plugin, LoadError>
where
    F: FnOnce(crate::Host) -> R,
    R: crate::IntoCapability,
    H: HostServices,
{
    Plugin::started(crate::guest::construct(host_box(host), ctor))
}
