//! Cluster mode, phase one: nodes of one host share PostgreSQL. Skipped with
//! a note unless `DMC_PG_URL` is set (`.ci/run` sets it).

use dmconnect_e2e::cluster::{fresh_database, node};
use dmconnect_e2e::{Client, GREETING};

#[tokio::test]
async fn account_registered_on_one_node_logs_in_on_another() {
    let Some(db) = fresh_database("accounts").await else { return };
    let (a, b) = (node(0, &db).await, node(1, &db).await);
    let mut alice = Client::login_new(a.addr(), "alice", "pw").await;
    let mut again = Client::login(b.addr(), "alice", "pw").await;
    let mut c = Client::connect(b.addr()).await;
    c.expect(GREETING).await;
    c.send("/register alice other").await;
    c.expect("Username already taken. Try another.").await;
    alice.send("/list_servers").await;
    alice.expect("Servers: general").await;
    again.send("/list_servers").await;
    again.expect("Servers: general").await;
}

#[tokio::test]
async fn a_ban_on_one_node_holds_on_another_and_survives_a_kill() {
    let Some(db) = fresh_database("bans").await else { return };
    let admin_node = dmconnect_e2e::TestServer::builder()
        .listen_ip("127.0.0.1")
        .server_key("host", "\"cluster.test\"")
        .server_key("admins", "[\"root\"]")
        .toml(&format!("[cluster]\nenabled = true\nnode_id = \"node0\"\npostgres_url = {db:?}\n"))
        .start()
        .await;
    let mut b = node(1, &db).await;
    drop(Client::login_new(b.addr(), "mallory", "pw").await);
    let mut root = Client::login_new(admin_node.addr(), "root", "pw").await;
    root.send("/ban mallory").await;
    root.expect("User 'mallory' has been banned.").await;
    // Committed before the reply: a node killed right after still refuses the login.
    b.kill().await;
    b.restart().await;
    let mut m = Client::connect(b.addr()).await;
    m.expect(GREETING).await;
    m.send("/login mallory pw").await;
    m.expect("This account is banned.").await;
}

#[tokio::test]
async fn a_node_refuses_to_start_without_its_database() {
    let Some(_db) = fresh_database("nodb").await else { return };
    let out = std::process::Command::new(dmconnect_e2e::server_binary())
        .args(["serve", "--config"])
        .arg(write_config("postgres://dmc@127.0.0.1:1/none"))
        .output()
        .expect("run dmconnect");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("[cluster] postgres_url: storage error: postgresql:"), "{err}");
}

fn write_config(url: &str) -> std::path::PathBuf {
    let dir = dmconnect_e2e::temp_dir("nodb");
    let path = dir.join("dmconnect.toml");
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nencrypted_listen = \"\"\ndata_dir = {:?}\n[cluster]\nenabled = true\nnode_id = \"n\"\npostgres_url = {url:?}\npostgres_timeout_ms = 500\n",
        dir.join("data").to_string_lossy()
    );
    std::fs::write(&path, text).expect("write config");
    path
}
