//! The local control socket `DATA_DIR/control.sock` (mode 0600): the command-line
//! tools change the database themselves and then tell a running server here.
//! One JSON request line in, one JSON answer line out.

use crate::hub::Hub;
use crate::reload::Reloader;
use serde_json::{json, Value};
use std::io::{BufRead, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tracing::{info, warn};

/// Largest request line accepted.
const MAX_REQUEST: u64 = 4096;
/// A request must arrive (and an answer be sent) within this long.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The socket of the server using `data_dir`.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join("control.sock")
}

/// Binds the socket and serves it. Refuses when another server answers on it (two servers on one
/// database); a socket that cannot be created (path too long, read-only) only costs live CLI updates.
pub fn start(hub: Arc<Hub>, reloader: Arc<Reloader>) -> Result<Option<PathBuf>, String> {
    let path = socket_path(hub.data_dir());
    if std::os::unix::net::UnixStream::connect(&path).is_ok() {
        return Err(format!("another server is running on this data directory ({} answers)", path.display()));
    }
    let _ = std::fs::remove_file(&path);
    let listener = match UnixListener::bind(&path) {
        Ok(l) => l,
        Err(e) => {
            warn!("no control socket ({}: {e}); command-line changes apply at the next start", path.display());
            return Ok(None);
        }
    };
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    let (hub, reloader) = (hub.clone(), reloader.clone());
                    tokio::spawn(async move {
                        if tokio::time::timeout(TIMEOUT, serve(stream, &hub, &reloader)).await.is_err() {
                            warn!("control request timed out");
                        }
                    });
                }
                Err(e) => {
                    warn!("control socket: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    });
    Ok(Some(path))
}

async fn serve(stream: UnixStream, hub: &Arc<Hub>, reloader: &Reloader) {
    let (rd, mut wr) = stream.into_split();
    let mut line = String::new();
    let answer = match tokio::io::BufReader::new(rd.take(MAX_REQUEST)).read_line(&mut line).await {
        Ok(_) if line.ends_with('\n') => match serde_json::from_str::<Value>(&line) {
            Ok(req) => handle(&req, hub, reloader).await,
            Err(e) => json!({"ok": false, "error": format!("bad request: {e}")}),
        },
        _ => json!({"ok": false, "error": "request too long or incomplete"}),
    };
    let _ = wr.write_all(format!("{answer}\n").as_bytes()).await;
}

async fn handle(req: &Value, hub: &Arc<Hub>, reloader: &Reloader) -> Value {
    let arg = |k: &str| req[k].as_str().unwrap_or_default().to_owned();
    match req["op"].as_str().unwrap_or_default() {
        "kick" => {
            let user = arg("user");
            let n = hub.sessions_of(&user).len();
            hub.kick_account(&user, crate::replies::YOU_ARE_BANNED);
            info!(%user, sessions = n, "sessions closed (command line)");
            json!({"ok": true, "sessions": n})
        }
        "room_deleted" => {
            let room = arg("room");
            match hub.delete_room(&room).await {
                Ok(_) => {
                    info!(%room, "server deleted (command line)");
                    json!({"ok": true})
                }
                Err(e) => json!({"ok": false, "error": e.to_string()}),
            }
        }
        "admins" => match reloader.refresh_admins().await {
            Ok(()) => json!({"ok": true}),
            Err(e) => json!({"ok": false, "error": e}),
        },
        "reload" => {
            let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Reloading]);
            let res = reloader.reload().await;
            let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]);
            match res {
                Ok(changes) => json!({"ok": true, "changes": changes}),
                Err(e) => json!({"ok": false, "error": e}),
            }
        }
        other => json!({"ok": false, "error": format!("unknown op {other:?}")}),
    }
}

/// Sends one request to the server using `data_dir`; `Ok(None)` when no server is running there.
pub fn request(data_dir: &Path, req: &Value) -> Result<Option<Value>, String> {
    let path = socket_path(data_dir);
    let mut stream = match std::os::unix::net::UnixStream::connect(&path) {
        Ok(s) => s,
        Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused) => {
            return Ok(None)
        }
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let io = |e: std::io::Error| format!("{}: {e}", path.display());
    stream.set_read_timeout(Some(TIMEOUT)).map_err(io)?;
    stream.set_write_timeout(Some(TIMEOUT)).map_err(io)?;
    stream.write_all(format!("{req}\n").as_bytes()).map_err(io)?;
    let mut line = String::new();
    std::io::BufReader::new(stream).read_line(&mut line).map_err(io)?;
    let answer: Value = serde_json::from_str(&line).map_err(|e| format!("bad answer from the server: {e}"))?;
    if answer["ok"].as_bool() == Some(true) {
        Ok(Some(answer))
    } else {
        Err(answer["error"].as_str().unwrap_or("the server refused").to_owned())
    }
}
