//! One loaded capability as the registry and HTTP serving share it: its info,
//! its plugin and the bounded, timed (and counted) way to call it.

use plugin_api::loader::{Info, Plugin};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// Most calls running at once in one capability; more wait (within the timeout).
/// Bounds the blocking threads a stuck plugin can hold.
pub const MAX_CALLS: usize = 8;

/// One loaded capability.
pub struct Cap {
    /// Name, commands and hooks, read at load.
    pub info: Info,
    /// Its `/NAME` help, built once.
    pub help: String,
    /// The plugin.
    pub plugin: Arc<Plugin>,
    slots: Arc<Semaphore>,
}

/// Why a plugin call gave no result.
pub enum CallError {
    /// It panicked or the blocking task failed.
    Failed(String),
    /// It did not finish within the timeout.
    TimedOut,
}

impl Cap {
    /// Wraps a started plugin.
    pub fn new(plugin: Plugin) -> Cap {
        let info = plugin.info().clone();
        Cap { help: info.help(), info, plugin: Arc::new(plugin), slots: Arc::new(Semaphore::new(MAX_CALLS)) }
    }

    /// Runs `f` on the blocking pool, bounded by this capability's slots and `limit`.
    pub async fn call<T: Send + 'static>(
        &self,
        limit: Duration,
        f: impl FnOnce(&Plugin) -> Result<T, String> + Send + 'static,
    ) -> Result<T, CallError> {
        let started = std::time::Instant::now();
        let plugin = self.plugin.clone();
        let slots = self.slots.clone();
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
pub struct Loaded {
    /// In load order.
    pub caps: Vec<Cap>,
    /// Limit for commands and s2s messages.
    pub timeout: Duration,
}

impl Loaded {
    /// A capability by name.
    pub fn cap(&self, name: &str) -> Option<&Cap> {
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
