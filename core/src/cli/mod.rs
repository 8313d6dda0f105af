//! Subcommands of the `dmconnect` binary.

pub mod admin;
pub mod serve;

use clap::{Args, Subcommand};
use dmconnect::config::Config;
use dmconnect::discover::{self, Source};
use dmconnect::store::Store;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Flags every subcommand takes.
#[derive(Args)]
pub struct Global {
    /// TOML config file (else $DMCONNECT_CONFIG, else /etc/dmconnect/dmconnect.toml, else defaults)
    #[arg(long, short, global = true)]
    pub config: Option<PathBuf>,
    /// Override [server] data_dir
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
}

/// `dmconnect user ...`.
#[derive(Subcommand)]
pub enum UserAction {
    /// Add an account (password prompted without echo, or one line on stdin when it is not a terminal)
    Add {
        /// Account name
        name: String,
        /// Read the password as one line from standard input, even on a terminal
        #[arg(long)]
        password_stdin: bool,
        /// Create the database if there is none yet (first setup before the server ever ran)
        #[arg(long)]
        create: bool,
    },
    /// Change an account's password (used from the next login on)
    Passwd {
        /// Account name
        name: String,
        /// Read the password as one line from standard input, even on a terminal
        #[arg(long)]
        password_stdin: bool,
    },
    /// Delete an account; its open sessions are closed at once
    Del {
        /// Account name
        name: String,
    },
    /// List accounts
    List,
}

/// `dmconnect room ...`.
#[derive(Subcommand)]
pub enum RoomAction {
    /// List stored subservers in creation order
    List,
    /// Delete a subserver; its members are told at once
    Del {
        /// Subserver name
        name: String,
    },
}

/// `dmconnect admin ...`.
#[derive(Subcommand)]
pub enum AdminAction {
    /// Make an account an administrator (takes effect for its next command)
    Add {
        /// Account name
        name: String,
    },
    /// Remove an administrator kept in the database
    Del {
        /// Account name
        name: String,
    },
    /// List administrators: from the config and from the database
    List,
}

/// The effective config and where it came from.
pub struct Env {
    /// Where the config came from.
    pub source: Source,
    /// The config with command-line overrides applied.
    pub cfg: Config,
    data_dir_flag: bool,
}

impl Env {
    /// Finds and reads the config the same way for every subcommand.
    pub fn load(g: &Global) -> Result<Env, String> {
        let source = discover::find(g.config.as_deref());
        let mut cfg = discover::load(&source)?;
        if let Some(d) = &g.data_dir {
            cfg.server.data_dir = d.clone();
            discover::absolute_data_dir(&mut cfg);
        }
        Ok(Env { source, cfg, data_dir_flag: g.data_dir.is_some() })
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.cfg.server.data_dir
    }

    /// Opens the existing database; refuses to create an empty one in the wrong place.
    pub fn store(&self) -> Result<Store, String> {
        if self.cfg.cluster.enabled {
            // Cluster mode: the shared PostgreSQL database, never a local file.
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
            return rt.block_on(self.cfg.cluster.open_store(self.data_dir()));
        }
        let dir = self.data_dir();
        if !Store::db_path(dir).is_file() {
            let from = if self.data_dir_flag { "--data-dir".to_owned() } else { self.source.to_string() };
            return Err(format!(
                "no database at {} (data_dir from {from}); start the server once or pass --data-dir",
                Store::db_path(dir).display()
            ));
        }
        Store::open_existing(dir).map_err(|e| e.to_string())
    }

    /// Tells a running server; returns what to add to the message ("" or a note that none runs).
    pub fn notify(&self, req: serde_json::Value) -> Result<Option<serde_json::Value>, String> {
        dmconnect::control::request(self.data_dir(), &req)
    }
}

/// Command output (not logging).
pub fn out(text: &str) {
    let _ = writeln!(std::io::stdout(), "{text}");
}

/// An error line on stderr.
pub fn err(text: &str) {
    let _ = writeln!(std::io::stderr(), "error: {text}");
}

/// `check-config [FILE]`.
pub fn check_config(g: &Global, file: Option<PathBuf>) -> Result<(), String> {
    let g = Global { config: file.or_else(|| g.config.clone()), data_dir: g.data_dir.clone() };
    let env = Env::load(&g)?;
    let _ = writeln!(std::io::stderr(), "{} is valid", env.source);
    out(env.cfg.to_toml()?.trim_end());
    Ok(())
}

/// `capabilities`.
pub fn capabilities(g: &Global) -> Result<(), String> {
    let env = Env::load(g)?;
    for dir in env.cfg.capabilities.search_path(discover::plugin_dir(&env.cfg)) {
        out(&format!("plugin directory: {}", dir.display()));
        for line in dmconnect::capabilities::describe_dir(&dir, &env.cfg.capabilities) {
            out(&line);
        }
    }
    Ok(())
}

/// `reload`.
pub fn reload(g: &Global) -> Result<(), String> {
    let env = Env::load(g)?;
    let sock = dmconnect::control::socket_path(env.data_dir());
    match env.notify(serde_json::json!({"op": "reload"}))? {
        None => Err(format!("no server is running here (no control socket at {})", sock.display())),
        Some(answer) => {
            let changes = answer["changes"].as_array().cloned().unwrap_or_default();
            if changes.is_empty() {
                out("reloaded: nothing changed");
            }
            for c in changes {
                out(&format!("reloaded: {}", c.as_str().unwrap_or_default()));
            }
            Ok(())
        }
    }
}

/// `backup FILE`.
pub fn backup(g: &Global, file: &Path) -> Result<(), String> {
    let env = Env::load(g)?;
    if file.exists() {
        return Err(format!("{} exists already", file.display()));
    }
    env.store()?.backup_to(file).map_err(|e| e.to_string())?;
    out(&format!("database copied to {}", file.display()));
    Ok(())
}
