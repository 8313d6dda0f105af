//! `dmconnect serve`: logging, limits, the server, the control socket, signals.

use super::{Env, Global};
use dmconnect::config::Config;
use dmconnect::reload::Reloader;
use sd_notify::NotifyState;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tracing::{info, warn};

/// Runs the server until SIGINT/SIGTERM; SIGHUP reloads.
pub fn run(g: &Global, listen: Option<String>, host: Option<String>, ready: Option<PathBuf>) -> Result<(), String> {
    let env = Env::load(g)?;
    // Command-line flags win over the file, at start and on every reload.
    let data_dir = g.data_dir.as_ref().map(|_| env.cfg.server.data_dir.clone());
    let overrides = move |c: &mut Config| {
        if let Some(l) = &listen {
            c.server.listen = l.clone();
        }
        if let Some(h) = &host {
            c.server.host = h.clone();
        }
        if let Some(d) = &data_dir {
            c.server.data_dir = d.clone();
        }
    };
    let mut cfg = env.cfg.clone();
    overrides(&mut cfg);
    cfg.check()?;
    let log = dmconnect::logging::init(&cfg.server.log_level, &cfg.server.log_format)?;
    info!("config: {}", env.source);
    info!("data directory: {}", cfg.server.data_dir.display());
    info!("database: {}", dmconnect::store::Store::db_path(&cfg.server.data_dir).display());
    let plugin_dir = dmconnect::discover::plugin_dir(&cfg);
    info!("plugin directory: {}", plugin_dir.display());
    match dmconnect::rlimit::raise_nofile(cfg.limits.max_connections) {
        Ok(m) => info!("{m}"),
        Err(m) => warn!("{m}"),
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Storage, hashing and plugin calls; few threads keep memory low under a login storm.
        .max_blocking_threads(32)
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async move {
        use tokio::signal::unix::{signal, SignalKind};
        // Before anything can signal readiness: a SIGHUP must never kill the server.
        let mut hup = signal(SignalKind::hangup()).map_err(|e| e.to_string())?;
        let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
        let mut int = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
        let cfg_metrics = cfg.metrics.listen.clone();
        let mut run_cfg = cfg.clone();
        run_cfg.capabilities.dir = Some(plugin_dir);
        let running = dmconnect::server::start(run_cfg).await?;
        let reloader = Reloader::new(env.source.clone(), Box::new(overrides), cfg, &running, Some(log));
        let sock = dmconnect::control::start(running.hub.clone(), reloader.clone())?;
        if let Some(sock) = &sock {
            info!("control socket: {}", sock.display());
        }
        let metrics = match cfg_metrics.as_str() {
            "" => None,
            addr => Some(dmconnect::metrics::serve(addr, Arc::downgrade(&running.hub)).await?),
        };
        if let Some(path) = ready {
            write_ready(&path, &running, metrics)?;
        }
        let _ = sd_notify::notify(false, &[NotifyState::Ready]);
        loop {
            tokio::select! {
                _ = hup.recv() => {
                    info!("SIGHUP: reloading");
                    let _ = sd_notify::notify(false, &[NotifyState::Reloading]);
                    let _ = reloader.reload().await;
                    let _ = sd_notify::notify(false, &[NotifyState::Ready]);
                }
                _ = term.recv() => { info!("SIGTERM"); break; }
                _ = int.recv() => { info!("SIGINT"); break; }
            }
        }
        let _ = sd_notify::notify(false, &[NotifyState::Stopping]);
        if let Some(sock) = &sock {
            let _ = std::fs::remove_file(sock);
        }
        running.shutdown().await;
        Ok::<(), String>(())
    })
}

fn write_ready(
    path: &std::path::Path,
    running: &dmconnect::server::Running,
    metrics: Option<SocketAddr>,
) -> Result<(), String> {
    let json = serde_json::json!({
        "metrics": metrics.map(|a| a.to_string()),
        "plain": running.plain.to_string(),
        "encrypted": running.encrypted.map(|a| a.to_string()),
        "tls": running.tls.map(|a| a.to_string()),
        "http": running.http.map(|a| a.to_string()),
    });
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, json.to_string())
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|e| format!("{}: {e}", path.display()))
}
