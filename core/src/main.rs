//! The `dmconnect` command: serve, manage users, check a config.

use clap::{Parser, Subcommand};
use dmconnect::auth::Auth;
use dmconnect::config::Config;
use dmconnect::store::Store;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use tracing::{error, info};

#[derive(Parser)]
#[command(name = "dmconnect", version, about = "A DMconnect chat server")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
struct ConfigArgs {
    /// TOML config file (optional: every key has a default)
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Override [server] data_dir
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server
    Serve {
        #[command(flatten)]
        cfg: ConfigArgs,
        /// Override [server] listen
        #[arg(long)]
        listen: Option<String>,
        /// Override [server] host
        #[arg(long)]
        host: Option<String>,
        /// After binding, write the bound addresses as JSON to this file
        #[arg(long)]
        ready_file: Option<PathBuf>,
    },
    /// Manage accounts
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// Check a config file and print the effective settings
    CheckConfig {
        /// The file to check
        file: PathBuf,
    },
    /// List the capability plugins found in the plugin directory
    Capabilities {
        #[command(flatten)]
        cfg: ConfigArgs,
    },
}

#[derive(Subcommand)]
enum UserAction {
    /// Add an account; the password is read from standard input
    Add {
        /// Account name
        name: String,
        #[command(flatten)]
        cfg: ConfigArgs,
    },
    /// List accounts
    List {
        #[command(flatten)]
        cfg: ConfigArgs,
    },
}

fn load(args: &ConfigArgs) -> Result<Config, String> {
    let mut cfg = match &args.config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    if let Some(d) = &args.data_dir {
        cfg.server.data_dir = d.clone();
    }
    Ok(cfg)
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve { cfg, listen, host, ready_file } => serve(cfg, listen, host, ready_file),
        Command::User { action } => user(action),
        Command::CheckConfig { file } => Config::load(&file).map(|c| {
            out(&format!("{file:?} is valid.\n{c:#?}"));
        }),
        Command::Capabilities { cfg } => load(&cfg).map(|c| {
            let dir = c.capabilities.dir.clone().unwrap_or_else(dmconnect::capabilities::default_dir);
            out(&format!("plugin directory: {}", dir.display()));
            for line in dmconnect::capabilities::describe_dir(&dir) {
                out(&line);
            }
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!("{e}");
            let _ = writeln!(std::io::stderr(), "error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// CLI output (not the server's logging).
fn out(text: &str) {
    let _ = writeln!(std::io::stdout(), "{text}");
}

fn serve(args: ConfigArgs, listen: Option<String>, host: Option<String>, ready: Option<PathBuf>) -> Result<(), String> {
    let mut cfg = load(&args)?;
    if let Some(l) = listen {
        cfg.server.listen = l;
    }
    if let Some(h) = host {
        cfg.server.host = h;
    }
    cfg.check()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Storage, hashing and plugin calls; few threads keep memory low under a login storm.
        .max_blocking_threads(32)
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async move {
        let running = dmconnect::server::start(cfg).await?;
        if let Some(path) = ready {
            let json = serde_json::json!({
                "plain": running.plain.to_string(),
                "encrypted": running.encrypted.map(|a| a.to_string()),
                "tls": running.tls.map(|a| a.to_string()),
            });
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, json.to_string())
                .and_then(|_| std::fs::rename(&tmp, &path))
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
        wait_for_signal().await;
        running.shutdown().await;
        Ok::<(), String>(())
    })
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => info!("SIGINT"),
        _ = term.recv() => info!("SIGTERM"),
    }
}

/// The same storage the server would use (PostgreSQL in cluster mode).
fn open_store(cfg: &dmconnect::config::Config) -> Result<Store, String> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    rt.block_on(cfg.cluster.open_store(&cfg.server.data_dir))
}

fn user(action: UserAction) -> Result<(), String> {
    match action {
        UserAction::Add { name, cfg } => {
            let cfg = load(&cfg)?;
            let name = dmconnect::names::normalise_account(&name)?;
            let mut password = String::new();
            std::io::stdin().lock().read_line(&mut password).map_err(|e| e.to_string())?;
            let password = password.trim_end_matches(['\r', '\n']);
            if password.is_empty() {
                return Err("empty password on standard input".into());
            }
            let hash = Auth::new(&cfg.auth)?.hash_blocking(password)?;
            let store = open_store(&cfg)?;
            if !store.add_account(&name, &hash).map_err(|e| e.to_string())? {
                return Err(format!("account {name:?} already exists"));
            }
            out(&format!("account {name:?} added"));
            Ok(())
        }
        UserAction::List { cfg } => {
            let cfg = load(&cfg)?;
            let store = open_store(&cfg)?;
            for (name, banned) in store.accounts().map_err(|e| e.to_string())? {
                out(&if banned { format!("{name} (banned)") } else { name });
            }
            Ok(())
        }
    }
}
