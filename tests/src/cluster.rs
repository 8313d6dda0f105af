//! Cluster tests' setup: nodes of one host sharing a fresh PostgreSQL
//! database on the `DMC_PG_URL` server that `.ci/run` starts
//! (`scripts/cluster-services.sh`).

use crate::TestServer;

/// A fresh database on the `DMC_PG_URL` server, or `None` after a printed
/// note when unset (a failure instead when `DMC_REQUIRE_CLUSTER=1`).
pub async fn fresh_database(tag: &str) -> Option<String> {
    let Ok(url) = std::env::var("DMC_PG_URL") else {
        assert!(
            std::env::var("DMC_REQUIRE_CLUSTER").as_deref() != Ok("1"),
            "DMC_REQUIRE_CLUSTER=1 but DMC_PG_URL is unset (run scripts/cluster-services.sh start DIR)"
        );
        eprintln!("note: DMC_PG_URL is unset; skipping cluster test {tag}");
        return None;
    };
    let db = format!("dmc_e2e_{tag}_{}", rand::random::<u32>());
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.expect("DMC_PG_URL reachable");
    tokio::spawn(conn);
    client.batch_execute(&format!("CREATE DATABASE {db}")).await.expect("create database");
    let (base, _) = url.rsplit_once('/').expect("DMC_PG_URL ends in /DATABASE");
    Some(format!("{base}/{db}"))
}

/// Starts node `n` (listening on 127.0.0.`n+1`) of a cluster on `db`.
pub async fn node(n: u8, db: &str) -> TestServer {
    TestServer::builder()
        .listen_ip(&format!("127.0.0.{}", n + 1))
        .server_key("host", "\"cluster.test\"")
        .toml(&format!("[cluster]\nenabled = true\nnode_id = \"node{n}\"\npostgres_url = {db:?}\n"))
        .start()
        .await
}
