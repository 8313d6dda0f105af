//! Listeners, the accept loop, first-bytes routing (protocol.md §7), connection
//! limits and graceful shutdown.

use crate::auth::Auth;
use crate::config::Config;
use crate::context::Shared;
use crate::federation::node::Node;
use crate::hub::{Hub, HubSettings};
use crate::shutdown::{Sessions, Watch};
use crate::sync::lock;
use crate::transport::plain::{TcpReader, TcpWriter};
use crate::transport::Halves;
use crate::{capabilities, federation, session};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tracing::{info, warn};

/// How long shutdown waits for sessions to end.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(3);

/// A started server.
pub struct Running {
    /// The bound plain port.
    pub plain: SocketAddr,
    /// The bound encrypted port, if enabled.
    pub encrypted: Option<SocketAddr>,
    /// The bound TLS port, if enabled.
    pub tls: Option<SocketAddr>,
    /// The bound HTTP-only port, if enabled.
    pub http: Option<SocketAddr>,
    /// The shared state.
    pub hub: Arc<Hub>,
    /// The `[limits]` budgets every check reads (a reload changes them).
    pub budgets: Arc<crate::limits::Budgets>,
    /// The upload budgets (a reload changes them).
    pub uploads: Arc<crate::uploads::Uploads>,
    tasks: JoinSet<()>,
    sessions: Sessions,
}

/// Counts connections per IP and in total; a slot is given back on drop.
#[derive(Clone)]
struct Limits {
    /// The bounds, read at every accept (a reload changes them).
    budgets: Arc<crate::limits::Budgets>,
    counts: Arc<Mutex<(usize, HashMap<IpAddr, usize>)>>,
}

struct Slot {
    limits: Limits,
    ip: IpAddr,
}

impl Limits {
    /// A slot, or the refusal line.
    fn take(&self, ip: IpAddr) -> Result<Slot, &'static str> {
        let mut c = lock(&self.counts);
        let n = c.1.get(&ip).copied().unwrap_or(0);
        let (per_ip, total) = self.budgets.connections();
        if per_ip != 0 && n >= per_ip {
            return Err(crate::replies::TOO_MANY_FROM_IP);
        }
        if total != 0 && c.0 >= total {
            return Err(crate::replies::SERVER_FULL);
        }
        c.0 += 1;
        c.1.insert(ip, n + 1);
        Ok(Slot { limits: self.clone(), ip })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut c = lock(&self.limits.counts);
        c.0 -= 1;
        if let Some(n) = c.1.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                c.1.remove(&self.ip);
            }
        }
    }
}

/// Everything a listener task needs (one per server, shared by its connections).
struct Ctx {
    shared: Arc<Shared>,
    /// Serves inbound server-to-server requests; `None` when federation is off.
    federation: Option<Arc<Node>>,
    /// Gives each chat session its shutdown guard.
    sessions: Watch,
    limits: Limits,
    sniff: Duration,
    grace: Duration,
    handshake: Duration,
    /// HTTP: the web app, WebSocket sessions, capability routes.
    web: Arc<crate::http::Web>,
}

/// Which listener a connection came in on.
#[derive(Clone, Copy, Debug)]
enum Door {
    Plain,
    Encrypted,
    Tls,
    /// HTTP only: every connection is a request, never greeted as chat.
    Http,
}

impl Door {
    /// The `transport` metrics label.
    fn name(self) -> &'static str {
        match self {
            Door::Plain => "plain",
            Door::Encrypted => "encrypted",
            Door::Tls => "tls",
            Door::Http => "http",
        }
    }
}

/// Opens storage, builds the hub, binds the listeners and starts serving.
pub async fn start(cfg: Config) -> Result<Running, String> {
    let store = cfg.cluster.open_store(&cfg.server.data_dir).await?;
    let auth = Auth::new(&cfg.auth)?;
    let settings = HubSettings {
        host: cfg.server.host.clone(),
        default_room: cfg.server.default_server.clone(),
        admins: cfg.server.admins.clone(),
        data_dir: cfg.server.data_dir.clone(),
        max_remote_members: cfg.limits.max_remote_members_per_room,
    };
    let hub = Hub::new(settings, store).map_err(|e| e.to_string())?;
    if cfg.cluster.enabled {
        hub.set_bus(crate::cluster::nats::start(&cfg.cluster, &hub).await?);
    }
    let plain = bind(&cfg.server.listen).await?;
    let plain_addr = plain.local_addr().map_err(|e| e.to_string())?;
    hub.set_listen_port(plain_addr.port());
    let caps = capabilities::load(&cfg.capabilities, Arc::downgrade(&hub), tokio::runtime::Handle::current());
    hub.set_capabilities(Arc::new(caps));
    let federation = match cfg.federation.enabled {
        true => {
            let node = federation::start(&cfg.federation, &cfg.server.listen, &hub);
            federation::share_sent(&node, &hub).await;
            Some(node)
        }
        false => None,
    };
    let sessions = Sessions::default();

    let budgets = Arc::new(crate::limits::Budgets::new(&cfg.limits));
    let shared = Arc::new(Shared {
        hub: hub.clone(),
        auth,
        legacy: cfg.compat.legacy,
        budgets: budgets.clone(),
        uploads: Arc::new(crate::uploads::Uploads::new(&cfg.limits, cfg.capabilities.files_root(&cfg.server.data_dir))),
    });
    shared.uploads.clean_incoming(Duration::from_secs(3600));
    let uploads = shared.uploads.clone();
    let web = crate::http::Web { shared: shared.clone(), cfg: cfg.web.clone() };
    let ctx = Arc::new(Ctx {
        web: Arc::new(web),
        shared,
        federation,
        sessions: sessions.watch(),
        limits: Limits { budgets: budgets.clone(), counts: Arc::default() },
        sniff: Duration::from_millis(cfg.server.sniff_ms),
        grace: Duration::from_millis(cfg.server.grace_ms),
        handshake: Duration::from_millis(cfg.server.handshake_timeout_ms),
    });
    let mut tasks = JoinSet::new();
    tasks.spawn(idle_sweeper(hub.clone(), budgets.clone()));
    info!(addr = %plain_addr, host = %cfg.server.host, "listening (plain)");
    tasks.spawn(accept_loop(plain, Door::Plain, ctx.clone()));

    let mut encrypted = None;
    if !cfg.server.encrypted_listen.is_empty() {
        let l = bind(&cfg.server.encrypted_listen).await?;
        let addr = l.local_addr().map_err(|e| e.to_string())?;
        info!(%addr, "listening (legacy encrypted; 768-bit DH, see README)");
        encrypted = Some(addr);
        tasks.spawn(accept_loop(l, Door::Encrypted, ctx.clone()));
    }
    let mut tls = None;
    if !cfg.server.tls_listen.is_empty() {
        let acceptor = crate::transport::tls::TlsAcceptor::from_pem_files(
            cfg.server.tls_cert.as_ref(),
            cfg.server.tls_key.as_ref(),
        )?;
        crate::transport::tls::install(acceptor);
        let l = bind(&cfg.server.tls_listen).await?;
        let addr = l.local_addr().map_err(|e| e.to_string())?;
        info!(%addr, "listening (TLS)");
        tls = Some(addr);
        tasks.spawn(accept_loop(l, Door::Tls, ctx.clone()));
    }
    let mut http = None;
    if !cfg.server.http_listen.is_empty() {
        let l = bind(&cfg.server.http_listen).await?;
        let addr = l.local_addr().map_err(|e| e.to_string())?;
        info!(%addr, "listening (HTTP only: web app, /ws, uploads)");
        http = Some(addr);
        tasks.spawn(accept_loop(l, Door::Http, ctx.clone()));
    }
    Ok(Running { plain: plain_addr, encrypted, tls, http, hub, budgets, uploads, tasks, sessions })
}

async fn bind(addr: &str) -> Result<TcpListener, String> {
    TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))
}

impl Running {
    /// Stops accepting, tells every session, waits for the sessions to end
    /// (their writers drain their queues), flushes storage.
    pub async fn shutdown(mut self) {
        info!("shutting down");
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
        for s in self.hub.all_connections() {
            s.send(crate::replies::SHUTTING_DOWN);
            s.end("shutdown");
        }
        // Each session drops its guard when it ends (its writer waits at most 2 s).
        if !self.sessions.wait(SHUTDOWN_WAIT).await {
            warn!("some sessions did not end in time");
        }
        self.hub.caps().shutdown().await;
        let store = self.hub.store().clone();
        if let Err(e) = store.run(|s| s.checkpoint()).await {
            warn!("{e}");
        }
        info!("stopped");
    }
}

/// Kicks sessions that sent nothing for `idle_timeout_secs` (read each round, so a
/// reload changes it; 0 = off). One task for all sessions instead of a timer in
/// each keeps idle sessions small.
async fn idle_sweeper(hub: Arc<Hub>, budgets: Arc<crate::limits::Budgets>) {
    loop {
        let limit = budgets.idle_timeout_secs();
        tokio::time::sleep(Duration::from_millis((limit * 1000 / 4).clamp(250, 5000))).await;
        if limit == 0 {
            continue;
        }
        let limit = Duration::from_secs(limit);
        for s in hub.all_connections() {
            if s.idle_for() >= limit {
                info!(session = s.id, peer = %s.peer, "idle timeout");
                s.end("idle");
            }
        }
    }
}

async fn accept_loop(listener: TcpListener, door: Door, ctx: Arc<Ctx>) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                // Out of fds or similar: back off instead of spinning.
                warn!(?door, "accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let slot = match ctx.limits.take(peer.ip()) {
            Ok(slot) => slot,
            Err(why) => {
                crate::metrics::count(&crate::metrics::M.disconnects, "reason", "limits");
                warn!(%peer, "connection refused: {why}");
                // One line, without waiting: the encrypted and TLS ports cannot say
                // anything before a handshake, so they just close.
                if matches!(door, Door::Plain) {
                    let _ = stream.try_write(format!("{why}\n").as_bytes());
                }
                drop(stream);
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let ctx = ctx.clone();
        tokio::spawn(async move {
            // The session gets a task of its own: this one's handshake state and
            // arguments would otherwise stay next to it for as long as it is connected.
            if let Some(((reader, writer), transport)) = prepare(stream, peer, door, &ctx).await {
                let keep = (slot, ctx.sessions.guard());
                tokio::spawn(session::run(ctx.shared.clone(), peer, transport, reader, writer, keep));
            }
        });
    }
}

/// Routes a new connection and sets up its transport: the chat session's halves and the
/// transport's name, or `None` when it was not a chat client (served here already) or its
/// handshake failed. An HTTP connection is a chat client once it upgraded to a WebSocket.
async fn prepare(stream: TcpStream, peer: SocketAddr, door: Door, ctx: &Ctx) -> Option<(Halves, &'static str)> {
    let halves: Halves = match door {
        Door::Plain => match sniff(&stream, ctx.sniff).await {
            Kind::Federation => {
                federation::inbound::serve(ctx.federation.as_deref(), stream, peer).await;
                return None;
            }
            Kind::Http => return Some((crate::http::serve(ctx.web.clone(), stream, peer).await?, WEBSOCKET)),
            Kind::Chat => {
                let sock = std::sync::Arc::new(stream);
                (Box::new(TcpReader::new(sock.clone(), ctx.grace)), Box::new(TcpWriter::new(sock)))
            }
        },
        Door::Encrypted => match crate::transport::legacy::handshake(stream, ctx.handshake).await {
            Ok(rw) => rw,
            Err(e) => {
                info!(%peer, "encrypted handshake failed: {e}");
                return None;
            }
        },
        Door::Tls => {
            let tls = match crate::transport::tls::current()?.handshake(stream, ctx.handshake).await {
                Ok(tls) => tls,
                Err(e) => {
                    info!(%peer, "TLS handshake failed: {e}");
                    return None;
                }
            };
            // Inside TLS, `GET `/`POST ` is HTTP (https://, wss://); anything else is chat.
            let (http, tls) = crate::transport::prefixed::starts_with(tls, HTTP_STARTS, ctx.sniff).await;
            if http {
                return Some((crate::http::serve(ctx.web.clone(), tls, peer).await?, WEBSOCKET));
            }
            crate::transport::tls::halves(tls, ctx.grace)
        }
        // A browser's spare connection may wait long before its request: nothing to sniff.
        Door::Http => return Some((crate::http::serve(ctx.web.clone(), stream, peer).await?, WEBSOCKET)),
    };
    Some((halves, door.name()))
}

/// The transport name of chat sessions that came in over HTTP (metrics, logs).
const WEBSOCKET: &str = "websocket";

/// First bytes of an HTTP request (protocol.md §7).
const HTTP_STARTS: &[&[u8]] = &[b"GET ", b"POST "];

enum Kind {
    Chat,
    Federation,
    Http,
}

/// Looks at the first bytes without consuming them (protocol.md §7).
async fn sniff(stream: &TcpStream, window: Duration) -> Kind {
    let deadline = tokio::time::Instant::now() + window;
    let mut buf = [0u8; 5];
    loop {
        let n = match tokio::time::timeout_at(deadline, stream.peek(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => n,
            _ => return Kind::Chat,
        };
        let seen = &buf[..n];
        if seen[0] == b'{' {
            return Kind::Federation;
        }
        let could_be_http = b"GET ".starts_with(seen) || b"POST ".starts_with(seen) || seen.starts_with(b"GET ");
        if seen.starts_with(b"GET ") || seen.starts_with(b"POST ") {
            return Kind::Http;
        }
        if !could_be_http {
            return Kind::Chat;
        }
        // A partial "GET"/"POST": wait a moment for the rest.
        tokio::time::sleep(Duration::from_millis(2)).await;
        if tokio::time::Instant::now() >= deadline {
            return Kind::Chat;
        }
    }
}
