//! Cluster tests' setup: nodes of one host sharing a fresh PostgreSQL
//! database on the `DMC_PG_URL` server and the NATS server at `DMC_NATS_URL`
//! (`.ci/run` starts both with `scripts/cluster-services.sh`).

use crate::{Client, TestServer};
use std::time::Duration;

/// How often test nodes beat, and when a silent one counts as dead.
pub const HEARTBEAT_MS: u64 = 200;
/// See [`HEARTBEAT_MS`].
pub const NODE_TIMEOUT_MS: u64 = 1000;

/// What the nodes of one test cluster share.
pub struct Services {
    /// A fresh database.
    pub db: String,
    /// The NATS server.
    pub nats: String,
    /// The host name: tests run in parallel on one NATS, and the host keeps their subjects apart.
    pub host: String,
}

/// A fresh database on the `DMC_PG_URL` server and the NATS URL, or `None`
/// after a printed note when unset (a failure when `DMC_REQUIRE_CLUSTER=1`).
pub async fn services(tag: &str) -> Option<Services> {
    let (Ok(url), Ok(nats)) = (std::env::var("DMC_PG_URL"), std::env::var("DMC_NATS_URL")) else {
        assert!(
            std::env::var("DMC_REQUIRE_CLUSTER").as_deref() != Ok("1"),
            "DMC_REQUIRE_CLUSTER=1 but DMC_PG_URL/DMC_NATS_URL are unset (scripts/cluster-services.sh start DIR)"
        );
        eprintln!("note: DMC_PG_URL/DMC_NATS_URL unset; skipping cluster test {tag}");
        return None;
    };
    let db = format!("dmc_e2e_{tag}_{}", rand::random::<u32>());
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.expect("DMC_PG_URL reachable");
    tokio::spawn(conn);
    client.batch_execute(&format!("CREATE DATABASE {db}")).await.expect("create database");
    let (base, _) = url.rsplit_once('/').expect("DMC_PG_URL ends in /DATABASE");
    Some(Services { db: format!("{base}/{db}"), nats, host: format!("{db}.test") })
}

/// The `[cluster]` table of node `n`.
pub fn cluster_toml(n: u8, db: &str, nats: &str) -> String {
    format!(
        "[cluster]\nenabled = true\nnode_id = \"node{n}\"\npostgres_url = {db:?}\nnats_url = {nats:?}\n\
         heartbeat_ms = {HEARTBEAT_MS}\nnode_timeout_ms = {NODE_TIMEOUT_MS}\n"
    )
}

/// Node `n` of the test cluster: on 127.0.0.`n+1`, administrator `root`.
pub fn builder(n: u8, svc: &Services) -> crate::Builder {
    TestServer::builder()
        .listen_ip(&format!("127.0.0.{}", n + 1))
        .server_key("host", &format!("{:?}", svc.host))
        .server_key("admins", "[\"root\"]")
        .toml(&cluster_toml(n, &svc.db, &svc.nats))
}

/// Starts node `n` of the test cluster (see [`builder`]).
pub async fn node(n: u8, svc: &Services) -> TestServer {
    builder(n, svc).start().await
}

/// Time for one heartbeat round to reach every node (presence, members).
pub async fn settle() {
    tokio::time::sleep(Duration::from_millis(2 * HEARTBEAT_MS + 100)).await;
}

/// PostgreSQL and NATS of one test's own (`scripts/cluster-services.sh start`), for
/// tests that stop them; stopped and removed when dropped.
pub struct OwnServices {
    dir: std::path::PathBuf,
}

fn script(cmd: &str, dir: &std::path::Path) -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = std::process::Command::new(root.join("scripts/cluster-services.sh"))
        .arg(cmd)
        .arg(dir)
        .output()
        .expect("run scripts/cluster-services.sh");
    assert!(out.status.success(), "cluster-services.sh {cmd}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl OwnServices {
    /// Starts them (only when cluster tests run at all: see [`services`]) and
    /// returns their [`Services`] with a fresh database.
    pub async fn start(tag: &str) -> Option<(OwnServices, Services)> {
        services(tag).await?;
        let dir = crate::temp_dir(tag);
        let env = script("start", &dir);
        let own = OwnServices { dir };
        let var = |name: &str| {
            env.lines()
                .find_map(|l| l.strip_prefix(&format!("export {name}=")).map(str::to_owned))
                .expect("the script prints the variable")
        };
        let (pg, nats) = (var("DMC_PG_URL"), var("DMC_NATS_URL"));
        let (client, conn) = tokio_postgres::connect(&pg, tokio_postgres::NoTls).await.expect("own PostgreSQL");
        tokio::spawn(conn);
        client.batch_execute("CREATE DATABASE dmc_own").await.expect("create database");
        let (base, _) = pg.rsplit_once('/').expect("URL ends in /DATABASE");
        let svc = Services { db: format!("{base}/dmc_own"), nats, host: format!("{tag}.test") };
        Some((own, svc))
    }

    /// Stops PostgreSQL (the NATS server keeps running).
    pub fn stop_postgres(&self) {
        script("stop-pg", &self.dir);
    }

    /// Starts PostgreSQL again on the same port.
    pub fn start_postgres(&self) {
        script("start-pg", &self.dir);
    }
}

impl Drop for OwnServices {
    fn drop(&mut self) {
        script("stop", &self.dir);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// alice on node `a` and bob on node `b`, both in `general`, after alice has seen bob
/// arrive (so the bus carries the room both ways).
pub async fn alice_and_bob_in_general(a: &TestServer, b: &TestServer) -> (Client, Client) {
    let mut alice = Client::login_new(a.addr(), "alice", "pw").await;
    let mut bob = Client::login_new(b.addr(), "bob", "pw").await;
    alice.join("general").await;
    settle().await;
    bob.join("general").await;
    alice.expect("*** bob has joined the server.").await;
    (alice, bob)
}
