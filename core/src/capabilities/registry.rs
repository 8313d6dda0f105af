//! The loaded capabilities, as the core sees them (`caps::Capabilities`).
//! The set is swapped whole when a capability is reloaded, enabled or
//! disabled: every call works on the snapshot it started with, so calls
//! already running in an old copy finish there.

use super::cap::{CallError, Cap, Loaded};
use super::loader::Starter;
use crate::caps::{Capabilities, DeliveryKind};
use crate::sync::{lock, rd, wr};
use async_trait::async_trait;
use plugin_api::loader::Plugin;
use plugin_api::Caller;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::runtime::Handle;
use tokio::task::AbortHandle;
use tracing::warn;

/// The loaded capabilities; implements [`Capabilities`] for the core.
pub struct Registry {
    current: RwLock<Arc<Loaded>>,
    pub(super) starter: Mutex<Option<Arc<Starter>>>,
    /// What each loaded file was when it was loaded (to see which changed on disk).
    pub(super) stamps: Mutex<HashMap<String, super::reload::Stamp>>,
    rt: Handle,
    ticks: Mutex<HashMap<String, AbortHandle>>,
    /// Serialises reloads (a reload is rare; two at once would race on the swap).
    pub(super) reloading: tokio::sync::Mutex<()>,
    /// Storage changes from other nodes, in order.
    kv_feed: super::kv_feed::KvFeed,
}

impl Registry {
    /// A registry of started plugins, their ticks running.
    pub(crate) fn new(starter: Starter, timeout: Duration, plugins: Vec<Plugin>) -> Registry {
        let caps: Vec<Arc<Cap>> = plugins.into_iter().map(|p| Arc::new(Cap::new(p))).collect();
        let stamps =
            caps.iter().map(|c| (c.info.name.clone(), super::reload::Stamp::of(&starter, &c.info.name))).collect();
        let kv_feed = super::kv_feed::KvFeed::start(starter.rt(), timeout);
        let reg = Registry {
            current: RwLock::new(Arc::new(Loaded { caps, timeout })),
            rt: starter.rt().clone(),
            starter: Mutex::new(Some(Arc::new(starter))),
            stamps: Mutex::new(stamps),
            ticks: Mutex::default(),
            reloading: tokio::sync::Mutex::new(()),
            kv_feed,
        };
        for c in reg.snapshot().caps.iter() {
            reg.start_tick(c);
        }
        reg
    }

    /// A registry with nothing loaded (the server is going away).
    pub(crate) fn empty(rt: Handle) -> Registry {
        Registry {
            current: RwLock::new(Arc::new(Loaded { caps: Vec::new(), timeout: Duration::from_secs(1) })),
            starter: Mutex::new(None),
            stamps: Mutex::default(),
            kv_feed: super::kv_feed::KvFeed::start(&rt, Duration::from_secs(1)),
            rt,
            ticks: Mutex::default(),
            reloading: tokio::sync::Mutex::new(()),
        }
    }

    /// The set in force now.
    pub(super) fn snapshot(&self) -> Arc<Loaded> {
        rd(&self.current).clone()
    }

    /// Puts a new set in force.
    pub(super) fn swap(&self, caps: Vec<Arc<Cap>>) {
        let timeout = self.snapshot().timeout;
        *wr(&self.current) = Arc::new(Loaded { caps, timeout });
    }

    /// (Re)starts the periodic tick of one capability, if it asked for one.
    pub(super) fn start_tick(&self, cap: &Arc<Cap>) {
        let name = cap.info.name.clone();
        if let Some(old) = lock(&self.ticks).remove(&name) {
            old.abort();
        }
        let secs = cap.info.tick_secs;
        if secs == 0 {
            return;
        }
        let cap = cap.clone();
        let task = self.rt.spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(secs));
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            every.tick().await;
            loop {
                every.tick().await;
                match cap.call(Duration::from_secs(secs.max(60)), |p| p.tick()).await {
                    Ok(()) => {}
                    Err(CallError::Failed(e)) => warn!(capability = %cap.info.name, "tick failed: {e}"),
                    Err(CallError::TimedOut) => warn!(capability = %cap.info.name, "tick did not finish in time"),
                }
            }
        });
        lock(&self.ticks).insert(name, task.abort_handle());
    }

    /// Stops the tick of a capability that is going away.
    pub(super) fn stop_tick(&self, name: &str) {
        if let Some(t) = lock(&self.ticks).remove(name) {
            t.abort();
        }
    }

    /// Calls `shutdown()` of a replaced copy once the calls still running in it are done (at most 60 s).
    pub(super) fn retire(&self, old: Arc<Cap>) {
        self.rt.spawn(async move {
            for _ in 0..600 {
                if Arc::strong_count(&old.plugin) == 1 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let name = old.info.name.clone();
            let plugin = old.plugin.clone();
            let done = tokio::task::spawn_blocking(move || plugin.shutdown()).await;
            if let Ok(Err(e)) = done {
                warn!(capability = %name, "shutdown hook failed: {e}");
            }
        });
    }
}

#[async_trait]
impl Capabilities for Registry {
    fn names(&self) -> Vec<String> {
        self.snapshot().caps.iter().map(|c| c.info.name.clone()).collect()
    }

    fn help(&self, cap: &str) -> Option<String> {
        self.snapshot().cap(cap).map(|c| c.help.clone())
    }

    async fn command(&self, cap: &str, command: &str, args: &str, caller: Caller) -> Option<String> {
        let inner = self.snapshot();
        let c = inner.cap(cap)?.clone();
        // The plugin itself answers `None` for a command it does not have.
        let (cmd, a) = (command.to_owned(), args.to_owned());
        match c.call(inner.timeout, move |p| p.command(&cmd, &a, &caller)).await {
            Ok(reply) => reply,
            Err(CallError::Failed(e)) => {
                warn!(capability = cap, command, "command failed: {e}");
                Some(crate::replies::capability_failed(cap, command))
            }
            Err(CallError::TimedOut) => {
                warn!(capability = cap, command, timeout_ms = inner.timeout.as_millis() as u64, "command timed out");
                Some(crate::replies::capability_timed_out(cap, command))
            }
        }
    }

    fn filters_delivery(&self) -> bool {
        rd(&self.current).caps.iter().any(|c| c.info.filters_delivery)
    }

    fn allow(&self, kind: DeliveryKind, from: &str, to: &str) -> bool {
        let inner = self.snapshot();
        for c in inner.caps.iter().filter(|c| c.info.filters_delivery) {
            match c.plugin.allow(kind, from, to) {
                Ok(true) => {}
                Ok(false) => return false,
                // Fail open: a broken filter must not silence the server.
                Err(e) => warn!(capability = %c.info.name, "delivery filter failed: {e}"),
            }
        }
        true
    }

    fn presence(&self, account: &str, host: Option<&str>, online: bool) {
        for c in self.snapshot().caps.iter() {
            if let Err(e) = c.plugin.presence(account, host, online) {
                warn!(capability = %c.info.name, "presence hook failed: {e}");
            }
        }
    }

    async fn s2s(&self, msg_type: &str, from_host: &str, json: &str) -> Option<String> {
        let inner = self.snapshot();
        let c = inner.caps.iter().find(|c| c.info.s2s_types.iter().any(|t| t == msg_type))?.clone();
        let (t, f, j) = (msg_type.to_owned(), from_host.to_owned(), json.to_owned());
        match c.call(inner.timeout, move |p| p.s2s(&t, &f, &j)).await {
            Ok(answer) => answer,
            Err(e) => {
                let why = match e {
                    CallError::Failed(e) => e,
                    CallError::TimedOut => "timed out".into(),
                };
                warn!(capability = %c.info.name, msg_type, from_host, "s2s handler failed: {why}");
                Some(serde_json::json!({"status": "error", "reason": "failed"}).to_string())
            }
        }
    }

    fn serves_path(&self, path: &str) -> bool {
        self.snapshot().http_route(path).is_some()
    }

    async fn http(
        &self,
        req: hyper::Request<hyper::body::Incoming>,
        peer: SocketAddr,
        uploads: &crate::uploads::Uploads,
    ) -> hyper::Response<crate::http_reply::Body> {
        super::http::handle(&self.snapshot(), req, peer, uploads).await
    }

    fn room_lines(&self) -> bool {
        rd(&self.current).caps.iter().any(|c| c.info.room_lines)
    }

    fn room_line(&self, room: &str, kind: DeliveryKind, sender: &str, text: &str) {
        let now =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        for c in self.snapshot().caps.iter().filter(|c| c.info.room_lines) {
            if let Err(e) = c.plugin.room_line(room, kind, sender, text, now) {
                warn!(capability = %c.info.name, "room line hook failed: {e}");
            }
        }
    }

    fn room_joins(&self) -> bool {
        rd(&self.current).caps.iter().any(|c| c.info.room_joins)
    }

    fn room_joined(&self, room: &str, caller: Caller) {
        for c in self.snapshot().caps.iter().filter(|c| c.info.room_joins) {
            if let Err(e) = c.plugin.room_joined(room, &caller) {
                warn!(capability = %c.info.name, "room join hook failed: {e}");
            }
        }
    }

    fn kv_changed(&self, cap: &str, key: &str) {
        if let Some(c) = self.snapshot().cap(cap).filter(|c| c.info.kv_changes) {
            self.kv_feed.push(c.clone(), key);
        }
    }

    async fn reload(&self, name: &str) -> String {
        self.reload_one(name).await
    }

    async fn apply_config(&self, cfg: &crate::config::CapabilitiesConfig) -> Vec<String> {
        self.reconfigure(cfg).await
    }

    async fn shutdown(&self) {
        for t in lock(&self.ticks).drain() {
            t.1.abort();
        }
        let inner = std::mem::replace(
            &mut *wr(&self.current),
            Arc::new(Loaded { caps: Vec::new(), timeout: Duration::from_secs(1) }),
        );
        for c in inner.caps.iter() {
            let plugin = c.plugin.clone();
            if let Ok(Err(e)) = tokio::task::spawn_blocking(move || plugin.shutdown()).await {
                warn!(capability = %c.info.name, "shutdown hook failed: {e}");
            }
        }
    }
}
