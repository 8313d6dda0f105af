//! Prometheus metrics (`[metrics] listen`, off by default): plain atomic counters
//! updated where things happen, exposed in the text format on `GET /metrics`.
//! Deliveries are counted per written batch, not per message, so fan-out pays nothing.

use crate::hub::Hub;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, Response, StatusCode};
use once_cell::sync::Lazy;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;
use std::sync::Weak;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tracing::{info, warn};

/// One label: `(name, value)`.
pub type Label = Vec<(&'static str, String)>;

/// Every metric the server keeps.
pub struct Metrics {
    /// Open client connections by transport.
    pub connections: Family<Label, Gauge>,
    /// Logins by result (`ok`, `failed`, `banned`).
    pub logins: Family<Label, Counter>,
    /// Accounts registered.
    pub registrations: Counter,
    /// Chat messages and commands received from clients.
    pub messages_in: Counter,
    /// Lines written to clients (counted per written batch).
    pub deliveries_out: Counter,
    /// Client connections closed, by reason (see docs/operating.md).
    pub disconnects: Family<Label, Counter>,
    /// Logged-in sessions by transport.
    pub sessions: Family<Label, Gauge>,
    /// Capability calls by capability and result (`ok`, `failed`, `timeout`).
    pub capability_calls: Family<Label, Counter>,
    /// Capability call latency by capability.
    pub capability_seconds: Family<Label, Histogram, fn() -> Histogram>,
    /// Federation requests by direction (`in`, `out`) and result.
    pub federation_requests: Family<Label, Counter>,
    /// Dialback checks by result (`ok`, `failed`).
    pub dialbacks: Family<Label, Counter>,
    accounts_online: Gauge,
    rooms: Gauge,
    uptime: Gauge,
    started: Instant,
    registry: Registry,
}

fn latency() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 4.0, 9))
}

/// The server's metrics (created on first use).
pub static M: Lazy<Metrics> = Lazy::new(Metrics::new);

impl Metrics {
    fn new() -> Metrics {
        let mut m = Metrics {
            connections: Family::default(),
            logins: Family::default(),
            registrations: Counter::default(),
            messages_in: Counter::default(),
            deliveries_out: Counter::default(),
            disconnects: Family::default(),
            capability_calls: Family::default(),
            capability_seconds: Family::new_with_constructor(latency),
            federation_requests: Family::default(),
            dialbacks: Family::default(),
            sessions: Family::default(),
            accounts_online: Gauge::default(),
            rooms: Gauge::default(),
            uptime: Gauge::default(),
            started: Instant::now(),
            registry: Registry::with_prefix("dmconnect"),
        };
        let r = &mut m.registry;
        r.register("connections", "Open client connections by transport", m.connections.clone());
        r.register("logins", "Logins by result", m.logins.clone());
        r.register("registrations", "Accounts registered", m.registrations.clone());
        r.register("messages_in", "Messages received from clients", m.messages_in.clone());
        r.register("deliveries_out", "Lines written to clients", m.deliveries_out.clone());
        r.register("disconnects", "Client connections closed, by reason", m.disconnects.clone());
        r.register("capability_calls", "Capability calls by result", m.capability_calls.clone());
        r.register("capability_call_seconds", "Capability call latency", m.capability_seconds.clone());
        r.register("federation_requests", "Server-to-server requests", m.federation_requests.clone());
        r.register("dialbacks", "Dialback checks by result", m.dialbacks.clone());
        r.register("sessions", "Logged-in sessions by transport", m.sessions.clone());
        r.register("accounts_online", "Accounts with a session", m.accounts_online.clone());
        r.register("rooms", "Local subservers", m.rooms.clone());
        r.register("uptime_seconds", "Seconds since start", m.uptime.clone());
        let build = Info::new(vec![("version", env!("CARGO_PKG_VERSION").to_owned())]);
        r.register("build", "Build information", build);
        m
    }

    /// The text exposition, with the gauges read from the hub now.
    pub fn render(&self, hub: Option<&Hub>) -> String {
        if let Some(hub) = hub {
            self.accounts_online.set(hub.online_counts().0 as i64);
            self.rooms.set(hub.room_names().len() as i64);
        }
        self.uptime.set(self.started.elapsed().as_secs() as i64);
        let mut text = String::new();
        if let Err(e) = encode(&mut text, &self.registry) {
            warn!("metrics: {e}");
        }
        text
    }
}

/// `[("name", value)]`.
pub fn label(name: &'static str, value: &str) -> Label {
    vec![(name, value.to_owned())]
}

/// Counts one event with one label.
pub fn count(family: &Family<Label, Counter>, name: &'static str, value: &str) {
    family.get_or_create(&label(name, value)).inc();
}

/// One client connection in the gauges: open by transport, and logged in by
/// transport once it is; both are taken back when it is dropped. Holds only the
/// label (every idle session keeps one): the gauges are looked up again.
pub struct Tracked {
    transport: &'static str,
    logged_in: bool,
}

impl Tracked {
    /// Counts a new connection on `transport` (`plain`, `tls`, `encrypted`, `websocket`).
    pub fn open(transport: &'static str) -> Tracked {
        M.connections.get_or_create(&label("transport", transport)).inc();
        Tracked { transport, logged_in: false }
    }

    /// Counts the session as logged in (once).
    pub fn logged_in(&mut self, yes: bool) {
        if yes && !self.logged_in {
            M.sessions.get_or_create(&label("transport", self.transport)).inc();
            self.logged_in = true;
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        let transport = label("transport", self.transport);
        M.connections.get_or_create(&transport).dec();
        if self.logged_in {
            M.sessions.get_or_create(&transport).dec();
        }
    }
}

/// Counts a server-to-server request (`in`/`out`, `ok`/`failed`).
pub fn federation(direction: &str, result: &str) {
    M.federation_requests
        .get_or_create(&vec![("direction", direction.to_owned()), ("result", result.to_owned())])
        .inc();
}

/// Records a capability call's result and latency.
pub fn capability_call(cap: &str, result: &str, took: Duration) {
    M.capability_calls.get_or_create(&vec![("capability", cap.to_owned()), ("result", result.to_owned())]).inc();
    M.capability_seconds.get_or_create(&label("capability", cap)).observe(took.as_secs_f64());
}

/// Serves `GET /metrics` on `addr` (keep it on loopback or behind a firewall).
pub async fn serve(addr: &str, hub: Weak<Hub>) -> Result<std::net::SocketAddr, String> {
    let listener = TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {addr} (metrics): {e}"))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    info!(addr = %bound, "metrics on /metrics");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            let hub = hub.clone();
            let svc = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let hub = hub.upgrade();
                async move { Ok::<_, std::convert::Infallible>(answer(&req, hub.as_deref())) }
            });
            tokio::spawn(async move {
                let conn = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc);
                let _ = tokio::time::timeout(Duration::from_secs(10), conn).await;
            });
        }
    });
    Ok(bound)
}

fn answer(req: &Request<hyper::body::Incoming>, hub: Option<&Hub>) -> Response<Full<Bytes>> {
    let (status, body) = if req.uri().path() == "/metrics" {
        (StatusCode::OK, M.render(hub))
    } else {
        (StatusCode::NOT_FOUND, "not found; try /metrics\n".to_owned())
    };
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    resp
}
