//! The loaded capabilities, as the core sees them (`caps::Capabilities`).

use super::cap::{CallError, Cap, Loaded};
use crate::caps::{Capabilities, DeliveryKind};
use async_trait::async_trait;
use plugin_api::loader::Plugin;
use plugin_api::Caller;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::runtime::Handle;
use tokio::task::AbortHandle;
use tracing::warn;

/// The loaded capabilities; implements [`Capabilities`] for the core.
pub struct Registry {
    inner: Arc<Loaded>,
    rt: Handle,
    ticks: Vec<AbortHandle>,
}

impl Registry {
    pub(crate) fn new(rt: Handle, timeout: Duration) -> Registry {
        Registry { inner: Arc::new(Loaded { caps: Vec::new(), timeout }), rt, ticks: Vec::new() }
    }

    pub(crate) fn has(&self, name: &str) -> bool {
        self.inner.cap(name).is_some()
    }

    /// Adds a started plugin (during loading, before the registry is shared).
    pub(crate) fn add(&mut self, plugin: Plugin) {
        let cap = Cap::new(plugin);
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
        // The plugin itself answers `None` for a command it does not have.
        let (cmd, a) = (command.to_owned(), args.to_owned());
        match c.call(self.inner.timeout, move |p| p.command(&cmd, &a, &caller)).await {
            Ok(reply) => reply,
            Err(CallError::Failed(e)) => {
                warn!(capability = cap, command, "command failed: {e}");
                Some(crate::replies::capability_failed(cap, command))
            }
            Err(CallError::TimedOut) => {
                warn!(
                    capability = cap,
                    command,
                    timeout_ms = self.inner.timeout.as_millis() as u64,
                    "command timed out"
                );
                Some(crate::replies::capability_timed_out(cap, command))
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
    ) -> hyper::Response<crate::http_reply::Body> {
        super::http::handle(&self.inner, req, peer).await
    }
}
