//! The same checks against both backends. PostgreSQL runs when `DMC_PG_URL`
//! points at a server this test may create databases on (`.ci/run` starts one).

use super::*;

fn temp_dir() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("dmc-store-{}-{}", std::process::id(), rand::random::<u64>()))
}

/// A fresh database on the `DMC_PG_URL` server, or `None` (after a note) when unset.
pub(crate) async fn fresh_pg_url(tag: &str) -> Option<String> {
    let Ok(url) = std::env::var("DMC_PG_URL") else {
        assert!(std::env::var("DMC_REQUIRE_CLUSTER").as_deref() != Ok("1"), "DMC_REQUIRE_CLUSTER=1 but no DMC_PG_URL");
        eprintln!("note: DMC_PG_URL is unset; skipping the PostgreSQL part of {tag}");
        return None;
    };
    let db = format!("dmc_unit_{tag}_{}", rand::random::<u32>());
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.expect("DMC_PG_URL reachable");
    tokio::spawn(conn);
    client.batch_execute(&format!("CREATE DATABASE {db}")).await.expect("create database");
    let (base, _) = url.rsplit_once('/').expect("DMC_PG_URL ends in /DATABASE");
    Some(format!("{base}/{db}"))
}

/// Everything the API promises, on whichever backend `s` is.
fn exercise(s: &Store) {
    assert_eq!(s.schema_version().unwrap(), migrate::latest());
    assert!(s.add_account("alice", "h").unwrap());
    assert!(!s.add_account("alice", "h2").unwrap());
    assert_eq!(s.account("alice").unwrap().unwrap().hash, "h");
    assert!(s.account("nobody").unwrap().is_none());
    assert!(s.set_banned("alice", true).unwrap());
    assert!(!s.set_banned("nobody", true).unwrap());
    assert!(s.account("alice").unwrap().unwrap().banned);
    assert!(s.add_account("Bob", "h").unwrap());
    assert_eq!(s.accounts().unwrap(), vec![("Bob".to_string(), false), ("alice".to_string(), true)]);
    assert!(s.add_room("b").unwrap() && s.add_room("a").unwrap());
    assert!(!s.add_room("a").unwrap());
    assert_eq!(s.rooms().unwrap(), vec!["b", "a"]);
    assert!(s.delete_room("b").unwrap() && !s.delete_room("b").unwrap());
    s.kv_set("ignore", "alice/bob", "1").unwrap();
    s.kv_set("ignore", "alice/carol", "1").unwrap();
    s.kv_set("ignore", "alice/carol", "2").unwrap();
    s.kv_set("ignore", "alicex/carol", "1").unwrap();
    s.kv_set("status", "alice/bob", "1").unwrap();
    assert_eq!(s.kv_list("ignore", "alice/").unwrap().len(), 2);
    assert!(s.kv_delete("ignore", "alice/bob").unwrap());
    assert!(!s.kv_delete("ignore", "alice/bob").unwrap());
    assert_eq!(s.kv_get("ignore", "alice/carol").unwrap().as_deref(), Some("2"));
    // Lookalikes (the skeleton rule itself lives with the name rules).
    let fake = "\u{430}lice"; // Cyrillic a
    let sk = crate::names::skeleton(fake);
    assert!(s.account_or_lookalike_exists(fake, &sk).unwrap());
    assert!(!s.add_account_checked(fake, &sk, "h").unwrap());
    assert!(s.add_account_checked("carol", &crate::names::skeleton("carol"), "h").unwrap());
    assert!(s.accounts_without_skeleton().unwrap().is_empty());
    assert!(s.add_room_by("c", "carol").unwrap() && !s.add_room_by("c", "carol").unwrap());
    assert_eq!(s.rooms_created_by("carol").unwrap(), 1);
    assert!(s.delete_room("c").unwrap());
    // Atomic capability storage.
    assert_eq!(s.kv_increment("dice", "n", 5).unwrap(), Some(5));
    assert_eq!(s.kv_increment("dice", "n", -2).unwrap(), Some(3));
    s.kv_set("dice", "word", "x").unwrap();
    assert_eq!(s.kv_increment("dice", "word", 1).unwrap(), None);
    s.kv_set("dice", "big", &i64::MAX.to_string()).unwrap();
    assert_eq!(s.kv_increment("dice", "big", 1).unwrap(), None);
    assert!(s.kv_compare_and_set("dice", "c", None, Some("a")).unwrap());
    assert!(!s.kv_compare_and_set("dice", "c", None, Some("b")).unwrap());
    assert!(!s.kv_compare_and_set("dice", "c", Some("b"), None).unwrap());
    assert!(s.kv_compare_and_set("dice", "c", Some("a"), None).unwrap());
    assert!(s.kv_compare_and_set("dice", "c", None, None).unwrap());
    assert_eq!(s.kv_get("dice", "c").unwrap(), None);
    // Accounts and stored administrators.
    assert!(s.set_hash("alice", "h3").unwrap() && !s.set_hash("zed", "h").unwrap());
    assert!(s.set_admin("alice", true).unwrap() && !s.set_admin("alice", true).unwrap());
    assert_eq!(s.admins().unwrap(), vec!["alice"]);
    assert!(s.add_account("dave", "h").unwrap() && s.set_admin("dave", true).unwrap());
    assert!(s.delete_account("dave").unwrap() && !s.account_exists("dave").unwrap());
    assert_eq!(s.admins().unwrap(), vec!["alice"]);
}

/// What `exercise` left, seen by a second handle (a restart, or another node).
fn reopened(s: &Store) {
    assert!(s.account_exists("alice").unwrap());
    assert_eq!(s.rooms().unwrap(), vec!["a"]);
    assert_eq!(s.kv_get("ignore", "alice/carol").unwrap().as_deref(), Some("2"));
}

#[test]
fn sqlite_backend() {
    let dir = temp_dir();
    let s = Store::open(&dir).unwrap();
    exercise(&s);
    drop(s);
    reopened(&Store::open(&dir).unwrap());
    let _ = std::fs::remove_dir_all(dir);
}

/// A database from before versioning, even one with a later step's column
/// (written by an unversioned build).
#[test]
fn sqlite_adopts_a_database_from_before_versioning() {
    let dir = temp_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let c = rusqlite::Connection::open(dir.join("dmconnect.db")).unwrap();
    c.execute_batch("CREATE TABLE accounts (name TEXT PRIMARY KEY, hash TEXT NOT NULL, banned INTEGER NOT NULL DEFAULT 0, created INTEGER NOT NULL DEFAULT 0); INSERT INTO accounts (name, hash) VALUES ('old', 'h'); CREATE TABLE rooms (seq INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE, creator TEXT);").unwrap();
    drop(c);
    let s = Store::open(&dir).unwrap();
    assert_eq!(s.schema_version().unwrap(), migrate::latest());
    assert!(s.account_exists("old").unwrap());
    // Filled in on open: lookalikes of older accounts are refused too.
    assert!(s.accounts_without_skeleton().unwrap().is_empty());
    assert!(s.account_or_lookalike_exists("\u{43e}ld", &crate::names::skeleton("\u{43e}ld")).unwrap());
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_backend() {
    let Some(url) = fresh_pg_url("backend").await else { return };
    let timeout = std::time::Duration::from_secs(5);
    let s = Store::connect_postgres(&url, 4, timeout).await.unwrap();
    s.run(|s| {
        exercise(s);
        Ok(())
    })
    .await
    .unwrap();
    // A second node on the same database: migrations find nothing to do.
    let other = Store::connect_postgres(&url, 2, timeout).await.unwrap();
    other
        .run(|s| {
            reopened(s);
            Ok(())
        })
        .await
        .unwrap();
    // Straight from an async worker, as `Hub::new` does at start.
    assert!(other.account_exists("alice").unwrap());
}

#[tokio::test]
async fn postgres_unreachable_is_a_clear_error() {
    let t = std::time::Duration::from_millis(500);
    let e = Store::connect_postgres("postgres://nobody@127.0.0.1:1/none", 1, t).await.err().expect("refused");
    assert!(e.to_string().starts_with("storage error: postgresql:"), "{e}");
}
