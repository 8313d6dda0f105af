//! The `dmconnect` command: run the server and administer it.

mod cli;

// Fewer bytes per idle session than glibc's malloc (no header per block, tighter
// aligned blocks for tasks and sockets); see bench/README.md.
#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "dmconnect",
    version,
    about = "A DMconnect chat server",
    after_help = "Config file: --config FILE, else $DMCONNECT_CONFIG, else /etc/dmconnect/dmconnect.toml if it \
                  exists, else built-in defaults. Every subcommand finds it the same way."
)]
struct Cli {
    #[command(flatten)]
    global: cli::Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (creates the data directory and database if needed)
    Serve {
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
    /// Print the effective settings as TOML (valid input for --config); FILE defaults to the discovered one
    CheckConfig {
        /// The file to check
        file: Option<PathBuf>,
    },
    /// List the capability plugins found in the plugin directory
    Capabilities,
    /// Manage accounts
    User {
        #[command(subcommand)]
        action: cli::UserAction,
    },
    /// Ban an account: refused at login; its open sessions are closed at once
    Ban {
        /// Account name
        name: String,
    },
    /// Lift a ban
    Unban {
        /// Account name
        name: String,
    },
    /// Manage subservers (rooms)
    Room {
        #[command(subcommand)]
        action: cli::RoomAction,
    },
    /// Manage administrators kept in the database (they count together with [server] admins)
    Admin {
        #[command(subcommand)]
        action: cli::AdminAction,
    },
    /// Ask the running server to re-read its config file (same as SIGHUP)
    Reload,
    /// Write a consistent copy of the database to FILE (safe while the server runs)
    Backup {
        /// Where the copy goes; must not exist yet
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let g = &cli.global;
    let result = match cli.command {
        Command::Serve { listen, host, ready_file } => cli::serve::run(g, listen, host, ready_file),
        Command::CheckConfig { file } => cli::check_config(g, file),
        Command::Capabilities => cli::capabilities(g),
        Command::User { action } => cli::admin::user(g, action),
        Command::Ban { name } => cli::admin::ban(g, &name, true),
        Command::Unban { name } => cli::admin::ban(g, &name, false),
        Command::Room { action } => cli::admin::room(g, action),
        Command::Admin { action } => cli::admin::admin(g, action),
        Command::Reload => cli::reload(g),
        Command::Backup { file } => cli::backup(g, &file),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Once, on stderr; nothing else prints it.
            cli::err(&e);
            ExitCode::FAILURE
        }
    }
}
