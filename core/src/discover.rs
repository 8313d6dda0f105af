//! Which config file every subcommand uses: `--config FILE`, else `$DMCONNECT_CONFIG`,
//! else `/etc/dmconnect/dmconnect.toml` if it exists, else the built-in defaults.

use crate::config::Config;
use std::fmt;
use std::path::{Path, PathBuf};

/// The system-wide config file looked for when neither the flag nor the variable names one.
pub const SYSTEM_CONFIG: &str = "/etc/dmconnect/dmconnect.toml";
/// Names the config file to use.
pub const CONFIG_ENV: &str = "DMCONNECT_CONFIG";
/// Test-only: replaces [`SYSTEM_CONFIG`] so tests need not touch /etc.
pub const SYSTEM_CONFIG_ENV: &str = "DMCONNECT_SYSTEM_CONFIG";

/// Where the effective config came from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// `--config FILE`.
    Flag(PathBuf),
    /// `$DMCONNECT_CONFIG`.
    Env(PathBuf),
    /// The system-wide file.
    System(PathBuf),
    /// No file: every key at its default.
    Defaults,
}

impl Source {
    /// The file to read (and re-read on reload), if any.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Source::Flag(p) | Source::Env(p) | Source::System(p) => Some(p),
            Source::Defaults => None,
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag(p) => write!(f, "{} (--config)", p.display()),
            Source::Env(p) => write!(f, "{} (${CONFIG_ENV})", p.display()),
            Source::System(p) => write!(f, "{}", p.display()),
            Source::Defaults => write!(f, "built-in defaults"),
        }
    }
}

/// Picks the config file by the rules above.
pub fn find(flag: Option<&Path>) -> Source {
    if let Some(p) = flag {
        return Source::Flag(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os(CONFIG_ENV).filter(|v| !v.is_empty()) {
        return Source::Env(p.into());
    }
    let system = std::env::var_os(SYSTEM_CONFIG_ENV).map_or_else(|| PathBuf::from(SYSTEM_CONFIG), PathBuf::from);
    if system.is_file() {
        return Source::System(system);
    }
    Source::Defaults
}

/// Reads the config `source` names and makes `data_dir` absolute (relative to the working directory).
pub fn load(source: &Source) -> Result<Config, String> {
    let mut cfg = match source.path() {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    absolute_data_dir(&mut cfg);
    Ok(cfg)
}

/// Makes `[server] data_dir` absolute so the server and every tool name the same place.
pub fn absolute_data_dir(cfg: &mut Config) {
    if let Ok(abs) = std::path::absolute(&cfg.server.data_dir) {
        cfg.server.data_dir = abs;
    }
}

/// The plugin directory in effect: `[capabilities] dir`, else `../lib/dmconnect/capabilities`
/// next to a `bin/dmconnect` (the package layout), else the executable's directory (cargo).
pub fn plugin_dir(cfg: &Config) -> PathBuf {
    if let Some(d) = &cfg.capabilities.dir {
        return d.clone();
    }
    let exe_dir = crate::capabilities::default_dir();
    if exe_dir.ends_with("bin") {
        if let Some(packaged) = exe_dir.parent().map(|p| p.join("lib/dmconnect/capabilities")) {
            if packaged.is_dir() {
                return packaged;
            }
        }
    }
    exe_dir
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_wins() {
        assert_eq!(find(Some(Path::new("/x.toml"))), Source::Flag("/x.toml".into()));
        assert_eq!(Source::Defaults.to_string(), "built-in defaults");
    }
}
