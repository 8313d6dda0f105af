//! The server's log output: text or JSON lines on standard error, with a filter
//! that a reload can change.

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Registry};

/// Changes the log filter of a running server.
#[derive(Clone)]
pub struct LogHandle(reload::Handle<EnvFilter, Registry>);

/// True when `RUST_LOG` is set; it then wins over `[server] log_level`.
pub fn env_overrides() -> bool {
    std::env::var_os("RUST_LOG").is_some_and(|v| !v.is_empty())
}

fn filter(level: &str) -> Result<EnvFilter, String> {
    if env_overrides() {
        return EnvFilter::try_from_default_env().map_err(|e| format!("RUST_LOG: {e}"));
    }
    EnvFilter::try_new(level).map_err(|e| format!("log_level {level:?}: {e}"))
}

/// Installs the global subscriber; `format` is `text` or `json`.
pub fn init(level: &str, format: &str) -> Result<LogHandle, String> {
    let (layer, handle) = reload::Layer::new(filter(level)?);
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none();
    let json = (format == "json").then(|| tracing_subscriber::fmt::layer().json().with_writer(std::io::stderr));
    let text =
        (format != "json").then(|| tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_ansi(ansi));
    tracing_subscriber::registry().with(layer).with(json).with(text).try_init().map_err(|e| e.to_string())?;
    Ok(LogHandle(handle))
}

/// Plain stderr logging for the command-line tools (warnings and errors only unless `RUST_LOG`).
pub fn init_tool() {
    let f = if env_overrides() { EnvFilter::from_default_env() } else { EnvFilter::new("warn") };
    let _ = tracing_subscriber::fmt().with_env_filter(f).with_writer(std::io::stderr).try_init();
}

impl LogHandle {
    /// Checks a new filter without applying it.
    pub fn check(level: &str) -> Result<(), String> {
        filter(level).map(|_| ())
    }

    /// Applies a new filter.
    pub fn set(&self, level: &str) -> Result<(), String> {
        self.0.reload(filter(level)?).map_err(|e| e.to_string())
    }
}
