//! The loaded capabilities, as the core sees them (`caps::Capabilities`).

use crate::caps::{Caller, Capabilities, DeliveryKind};
use async_trait::async_trait;
use plugin_api::loader::Plugin;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::runtime::Handle;
use tokio::sync::Semaphore;
use tokio::task::AbortHandle;
use tracing::warn;

/// Most calls running at once in one capability; more wait (within the timeout).
/// Bounds the blocking threads a stuck plugin can hold.
pub const MAX_CALLS: usize = 8;

/// One loaded capability.
pub(crate) struct Cap {
    /// Name, commands and hooks, read at load.
    pub info: plugin_api::Info,
    help: String,
    /// The plugin.
    pub plugin: Arc<Plugin>,
    slots: Arc<Semaphore>,
}

/// Why a plugin call gave no result.
pub(crate) enum CallError {
    /// It panicked or the blocking task failed.
    Failed(String),
    /// It did not finish within the timeout.
    TimedOut,
}

impl Cap {
    /// Runs `f` on the blocking pool, bounded by this capability's slots and `limit`.
    pub async fn call<T: Send + 'static>(
        &self,
        limit: Duration,
        f: impl FnOnce(&Plugin) -> Result<T, String> + Send + 'static,
    ) -> Result<T, CallError> {
        let plugin = self.plugin.clone();
        let slots = self.slots.clone();
        let started = std::time::Instant::now();
        let run = async move {
            let permit = slots.acquire_owned().await.map_err(|_| CallError::Failed("closed".into()))?;
            // The permit goes with the blocking task: a call that outlives the timeout still holds its slot.
            let task = tokio::task::spawn_blocking(move || {
                let _permit = permit;
                f(&plugin)
            });
            match task.await {
                Ok(r) => r.map_err(CallError::Failed),
                Err(e) => Err(CallError::Failed(e.to_string())),
            }
        };
        let res = tokio::time::timeout(limit, run).await.unwrap_or(Err(CallError::TimedOut));
        let result = match &res {
            Ok(_) => "ok",
            Err(CallError::Failed(_)) => "failed",
            Err(CallError::TimedOut) => "timeout",
        };
        crate::metrics::capability_call(&self.info.name, result, started.elapsed());
        res
    }
}

/// The shared part of the registry (HTTP connections hold it).
pub(crate) struct Inner {
    /// In load order.
    pub caps: Vec<Cap>,
    /// Limit for commands and s2s messages.
    pub timeout: Duration,
}

impl Inner {
    fn cap(&self, name: &str) -> Option<&Cap> {
        self.caps.iter().find(|c| c.info.name == name)
    }

    /// The capability serving this HTTP path (longest prefix wins).
    pub fn http_route(&self, path: &str) -> Option<&Cap> {
        let mut best: Option<(&Cap, usize)> = None;
        for c in &self.caps {
            for p in &c.info.http_prefixes {
                if path.starts_with(p.as_str()) && best.is_none_or(|(_, n)| p.len() > n) {
                    best = Some((c, p.len()));
                }
            }
        }
        best.map(|(c, _)| c)
    }
}

/// The loaded capabilities; implements [`Capabilities`] for the core.
pub struct Registry {
    inner: Arc<Inner>,
    rt: Handle,
    ticks: Vec<AbortHandle>,
}

impl Registry {
    /// Loads the enabled capabilities; the same as [`super::load`].
    pub fn load(
        cfg: &crate::config::CapabilitiesConfig,
        hub: std::sync::Weak<crate::hub::Hub>,
        rt: Handle,
    ) -> Registry {
        super::load(cfg, hub, rt)
    }

    pub(crate) fn new(rt: Handle, timeout: Duration) -> Registry {
        Registry { inner: Arc::new(Inner { caps: Vec::new(), timeout }), rt, ticks: Vec::new() }
    }

    pub(crate) fn has(&self, name: &str) -> bool {
        self.inner.cap(name).is_some()
    }

    /// Adds a started plugin (during loading, before the registry is shared).
    pub(crate) fn add(&mut self, plugin: Plugin) {
        let info = plugin.info().clone();
        let cap = Cap { help: info.help(), info, plugin: Arc::new(plugin), slots: Arc::new(Semaphore::new(MAX_CALLS)) };
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.caps.push(cap);
        }
    }

    /// Starts the periodic tick of each capability that asked for one.
    pub(crate) fn start_ticks(&mut self) {
        for i in 0..self.inner.caps.len() {
            let secs = self.inner.caps[i].info.tick_secs;
            if secs == 0 {
                continue;
            }
            let inner = self.inner.clone();
            let task = self.rt.spawn(async move {
                let mut every = tokio::time::interval(Duration::from_secs(secs));
                every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                every.tick().await;
                loop {
                    every.tick().await;
                    let cap = &inner.caps[i];
                    match cap.call(Duration::from_secs(secs.max(60)), |p| p.tick()).await {
                        Ok(()) => {}
                        Err(CallError::Failed(e)) => warn!(capability = %cap.info.name, "tick failed: {e}"),
                        Err(CallError::TimedOut) => warn!(capability = %cap.info.name, "tick did not finish in time"),
                    }
                }
            });
            self.ticks.push(task.abort_handle());
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        for t in &self.ticks {
            t.abort();
        }
        for c in &self.inner.caps {
            if let Err(e) = c.plugin.shutdown() {
                warn!(capability = %c.info.name, "shutdown hook failed: {e}");
            }
        }
    }
}

#[async_trait]
impl Capabilities for Registry {
    fn names(&self) -> Vec<String> {
        self.inner.caps.iter().map(|c| c.info.name.clone()).collect()
    }

    fn help(&self, cap: &str) -> Option<String> {
        self.inner.cap(cap).map(|c| c.help.clone())
    }

    async fn command(&self, cap: &str, command: &str, args: &str, caller: Caller) -> Option<String> {
        let c = self.inner.cap(cap)?;
        if !c.info.commands.iter().any(|x| x.name == command) {
            return None;
        }
        let caller = plugin_api::Caller {
            account: caller.account,
            session_id: caller.session_id,
            peer_ip: caller.peer_ip,
            room: caller.room,
        };
        let (cmd, a) = (command.to_owned(), args.to_owned());
        match c.call(self.inner.timeout, move |p| p.command(&cmd, &a, &caller)).await {
            Ok(reply) => reply,
            Err(CallError::Failed(e)) => {
                warn!(capability = cap, command, "command failed: {e}");
                Some(format!("Error: /{cap}-{command} failed inside the capability."))
            }
            Err(CallError::TimedOut) => {
                warn!(
                    capability = cap,
                    command,
                    timeout_ms = self.inner.timeout.as_millis() as u64,
                    "command timed out"
                );
                Some(format!("Error: /{cap}-{command} did not answer in time."))
            }
        }
    }

    fn filters_delivery(&self) -> bool {
        self.inner.caps.iter().any(|c| c.info.filters_delivery)
    }

    fn allow(&self, kind: DeliveryKind, from: &str, to: &str) -> bool {
        for c in self.inner.caps.iter().filter(|c| c.info.filters_delivery) {
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
        for c in &self.inner.caps {
            if let Err(e) = c.plugin.presence(account, host, online) {
                warn!(capability = %c.info.name, "presence hook failed: {e}");
            }
        }
    }

    async fn s2s(&self, msg_type: &str, from_host: &str, json: &str) -> Option<String> {
        let c = self.inner.caps.iter().find(|c| c.info.s2s_types.iter().any(|t| t == msg_type))?;
        let (t, f, j) = (msg_type.to_owned(), from_host.to_owned(), json.to_owned());
        match c.call(self.inner.timeout, move |p| p.s2s(&t, &f, &j)).await {
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
        self.inner.http_route(path).is_some()
    }

    async fn http(
        &self,
        req: hyper::Request<hyper::body::Incoming>,
        peer: SocketAddr,
    ) -> hyper::Response<crate::http::Body> {
        super::http::handle(&self.inner, req, peer).await
    }
}
