//! SQLite storage (rusqlite, WAL) behind one small API. Nothing else opens the database.
//!
//! Every method blocks: async code goes through [`Store::run`], which moves
//! the call onto tokio's blocking pool.

use rusqlite::{params, Connection, OptionalExtension};
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// A storage failure (the database is broken or the disk is full).
#[derive(Debug)]
pub struct StoreError(String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "storage error: {}", self.0)
    }
}

impl std::error::Error for StoreError {}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError(e.to_string())
    }
}

type Result<T> = std::result::Result<T, StoreError>;

/// The database handle; cheap to clone.
#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
    jobs: std::sync::mpsc::Sender<Job>,
}

type Job = Box<dyn FnOnce(&Store) + Send>;

/// A stored account.
#[derive(Debug, Clone)]
pub struct Account {
    /// Account name.
    pub name: String,
    /// argon2id PHC string.
    pub hash: String,
    /// Refused at login when set.
    pub banned: bool,
}

impl Store {
    /// The database file inside a data directory.
    pub fn db_path(dir: &Path) -> std::path::PathBuf {
        dir.join("dmconnect.db")
    }

    /// Opens an existing `DIR/dmconnect.db`; never creates one (command-line tools).
    pub fn open_existing(dir: &Path) -> Result<Store> {
        if !Self::db_path(dir).is_file() {
            return Err(StoreError(format!("no database at {}", Self::db_path(dir).display())));
        }
        Self::open(dir)
    }

    /// Opens (creating if needed) `DIR/dmconnect.db`.
    pub fn open(dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError(format!("{}: {e}", dir.display())))?;
        let conn = Connection::open(Self::db_path(dir))?;
        // WAL + FULL: a success reply is only sent after the commit reached the disk.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS accounts (
                 name TEXT PRIMARY KEY, hash TEXT NOT NULL, banned INTEGER NOT NULL DEFAULT 0,
                 created INTEGER NOT NULL DEFAULT (strftime('%s','now')));
             CREATE TABLE IF NOT EXISTS rooms (
                 seq INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE);
             CREATE TABLE IF NOT EXISTS kv (
                 ns TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (ns, key));
             CREATE TABLE IF NOT EXISTS admins (name TEXT PRIMARY KEY);",
        )?;
        migrate(&conn)?;
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let store = Store { conn: Arc::new(Mutex::new(conn)), jobs: tx };
        // One thread runs the async side's queries: SQLite serialises writers
        // anyway, and a login storm then cannot fan out into many blocking threads.
        let worker = Store { conn: store.conn.clone(), jobs: store.jobs.clone() };
        std::thread::Builder::new()
            .name("dmconnect-store".into())
            .spawn(move || {
                while let Ok(job) = rx.recv() {
                    job(&worker);
                }
            })
            .map_err(|e| StoreError(format!("cannot start the storage thread: {e}")))?;
        Ok(store)
    }

    /// Adds an account with its confusable skeleton; `Ok(false)` if the name or a
    /// lookalike (same skeleton) is taken.
    pub fn add_account_checked(&self, name: &str, skeleton: &str, hash: &str) -> Result<bool> {
        self.with(|c| {
            let taken = c
                .query_row("SELECT 1 FROM accounts WHERE skeleton = ?1", params![skeleton], |_| Ok(()))
                .optional()?
                .is_some();
            if taken {
                return Ok(false);
            }
            let n = c.execute(
                "INSERT OR IGNORE INTO accounts (name, hash, skeleton) VALUES (?1, ?2, ?3)",
                params![name, hash, skeleton],
            )?;
            Ok(n == 1)
        })
    }

    /// Is a name or a lookalike of it (same skeleton) taken?
    pub fn account_or_lookalike_exists(&self, name: &str, skeleton: &str) -> Result<bool> {
        self.with(|c| {
            c.query_row("SELECT 1 FROM accounts WHERE name = ?1 OR skeleton = ?2", params![name, skeleton], |_| Ok(()))
                .optional()
                .map(|r| r.is_some())
        })
    }

    /// Adds a subserver created by `creator`; `Ok(false)` if it exists.
    pub fn add_room_by(&self, name: &str, creator: &str) -> Result<bool> {
        self.with(|c| {
            Ok(c.execute("INSERT OR IGNORE INTO rooms (name, creator) VALUES (?1, ?2)", params![name, creator])? == 1)
        })
    }

    /// Subservers created by `creator`.
    pub fn rooms_created_by(&self, creator: &str) -> Result<usize> {
        self.with(|c| {
            c.query_row("SELECT COUNT(*) FROM rooms WHERE creator = ?1", params![creator], |r| r.get::<_, i64>(0))
                .map(|n| n as usize)
        })
    }

    fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T> {
        let conn = crate::sync::lock(&self.conn);
        Ok(f(&conn)?)
    }

    /// Runs blocking storage work on the storage thread.
    pub async fn run<T: Send + 'static>(&self, f: impl FnOnce(&Store) -> Result<T> + Send + 'static) -> Result<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |s| {
            let _ = tx.send(f(s));
        });
        self.jobs.send(job).map_err(|_| StoreError("the storage thread has stopped".into()))?;
        rx.await.map_err(|_| StoreError("storage task failed".into()))?
    }

    /// Adds an account; `Ok(false)` if the name is taken.
    pub fn add_account(&self, name: &str, hash: &str) -> Result<bool> {
        self.with(|c| {
            let n = c.execute(
                "INSERT OR IGNORE INTO accounts (name, hash, skeleton) VALUES (?1, ?2, ?3)",
                params![name, hash, crate::names::skeleton(name)],
            )?;
            Ok(n == 1)
        })
    }

    /// Looks an account up.
    pub fn account(&self, name: &str) -> Result<Option<Account>> {
        self.with(|c| {
            c.query_row("SELECT name, hash, banned FROM accounts WHERE name = ?1", params![name], |r| {
                Ok(Account { name: r.get(0)?, hash: r.get(1)?, banned: r.get::<_, i64>(2)? != 0 })
            })
            .optional()
        })
    }

    /// Does an account exist?
    pub fn account_exists(&self, name: &str) -> Result<bool> {
        self.with(|c| {
            c.query_row("SELECT 1 FROM accounts WHERE name = ?1", params![name], |_| Ok(()))
                .optional()
                .map(|r| r.is_some())
        })
    }

    /// All accounts, by name: (name, banned).
    pub fn accounts(&self) -> Result<Vec<(String, bool)>> {
        self.with(|c| {
            let mut st = c.prepare("SELECT name, banned FROM accounts ORDER BY name")?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? != 0)))?;
            rows.collect()
        })
    }

    /// Sets or clears an account's ban; `Ok(false)` if no such account.
    pub fn set_banned(&self, name: &str, banned: bool) -> Result<bool> {
        self.with(|c| {
            Ok(c.execute("UPDATE accounts SET banned = ?2 WHERE name = ?1", params![name, banned as i64])? == 1)
        })
    }

    /// Replaces an account's password hash; `Ok(false)` if no such account.
    pub fn set_hash(&self, name: &str, hash: &str) -> Result<bool> {
        self.with(|c| Ok(c.execute("UPDATE accounts SET hash = ?2 WHERE name = ?1", params![name, hash])? == 1))
    }

    /// Deletes an account (and its administrator entry); `Ok(false)` if no such account.
    pub fn delete_account(&self, name: &str) -> Result<bool> {
        self.with(|c| {
            c.execute("DELETE FROM admins WHERE name = ?1", params![name])?;
            Ok(c.execute("DELETE FROM accounts WHERE name = ?1", params![name])? == 1)
        })
    }

    /// Administrators kept in the database (besides `[server] admins`), by name.
    pub fn admins(&self) -> Result<Vec<String>> {
        self.with(|c| {
            let mut st = c.prepare("SELECT name FROM admins ORDER BY name")?;
            let rows = st.query_map([], |r| r.get(0))?;
            rows.collect()
        })
    }

    /// Adds or removes a stored administrator; `Ok(false)` if nothing changed.
    pub fn set_admin(&self, name: &str, admin: bool) -> Result<bool> {
        let sql = if admin {
            "INSERT OR IGNORE INTO admins (name) VALUES (?1)"
        } else {
            "DELETE FROM admins WHERE name = ?1"
        };
        self.with(|c| Ok(c.execute(sql, params![name])? == 1))
    }

    /// Stored subservers in creation order.
    pub fn rooms(&self) -> Result<Vec<String>> {
        self.with(|c| {
            let mut st = c.prepare("SELECT name FROM rooms ORDER BY seq")?;
            let rows = st.query_map([], |r| r.get(0))?;
            rows.collect()
        })
    }

    /// Adds a subserver; `Ok(false)` if it exists.
    pub fn add_room(&self, name: &str) -> Result<bool> {
        self.with(|c| Ok(c.execute("INSERT OR IGNORE INTO rooms (name) VALUES (?1)", params![name])? == 1))
    }

    /// Deletes a subserver; `Ok(false)` if it did not exist.
    pub fn delete_room(&self, name: &str) -> Result<bool> {
        self.with(|c| Ok(c.execute("DELETE FROM rooms WHERE name = ?1", params![name])? == 1))
    }

    /// A capability's stored value.
    pub fn kv_get(&self, ns: &str, key: &str) -> Result<Option<String>> {
        self.with(|c| {
            c.query_row("SELECT value FROM kv WHERE ns = ?1 AND key = ?2", params![ns, key], |r| r.get(0)).optional()
        })
    }

    /// Stores a capability's value.
    pub fn kv_set(&self, ns: &str, key: &str, value: &str) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO kv (ns, key, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value",
                params![ns, key, value],
            )
            .map(|_| ())
        })
    }

    /// Deletes a capability's value; `Ok(false)` if there was none.
    pub fn kv_delete(&self, ns: &str, key: &str) -> Result<bool> {
        self.with(|c| Ok(c.execute("DELETE FROM kv WHERE ns = ?1 AND key = ?2", params![ns, key])? == 1))
    }

    /// A capability's values whose keys start with `prefix`, by key.
    pub fn kv_list(&self, ns: &str, prefix: &str) -> Result<Vec<(String, String)>> {
        self.with(|c| {
            let mut st =
                c.prepare("SELECT key, value FROM kv WHERE ns = ?1 AND substr(key, 1, ?3) = ?2 ORDER BY key")?;
            let rows =
                st.query_map(params![ns, prefix, prefix.chars().count() as i64], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })
    }

    /// Adds `delta` to an integer value (absent = 0) in one transaction; `Ok(None)` if the value is not an integer.
    pub fn kv_increment(&self, ns: &str, key: &str, delta: i64) -> Result<Option<i64>> {
        self.with(|c| {
            let tx = c.unchecked_transaction()?;
            let old: Option<String> = tx
                .query_row("SELECT value FROM kv WHERE ns = ?1 AND key = ?2", params![ns, key], |r| r.get(0))
                .optional()?;
            let Some(new) =
                old.as_deref().map_or(Some(0), |v| v.trim().parse::<i64>().ok()).and_then(|n| n.checked_add(delta))
            else {
                return Ok(None);
            };
            tx.execute(
                "INSERT INTO kv (ns, key, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value",
                params![ns, key, new.to_string()],
            )?;
            tx.commit()?;
            Ok(Some(new))
        })
    }

    /// Sets (or, with `new` none, deletes) a value only if it is `expected` (none = absent), in one transaction.
    pub fn kv_compare_and_set(&self, ns: &str, key: &str, expected: Option<&str>, new: Option<&str>) -> Result<bool> {
        self.with(|c| {
            let tx = c.unchecked_transaction()?;
            let old: Option<String> = tx
                .query_row("SELECT value FROM kv WHERE ns = ?1 AND key = ?2", params![ns, key], |r| r.get(0))
                .optional()?;
            if old.as_deref() != expected {
                return Ok(false);
            }
            match new {
                Some(v) => tx.execute(
                    "INSERT INTO kv (ns, key, value) VALUES (?1, ?2, ?3)
                     ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value",
                    params![ns, key, v],
                )?,
                None => tx.execute("DELETE FROM kv WHERE ns = ?1 AND key = ?2", params![ns, key])?,
            };
            tx.commit()?;
            Ok(true)
        })
    }

    /// Writes a consistent copy of the database to `file` (works while the server runs).
    pub fn backup_to(&self, file: &Path) -> Result<()> {
        let target = file.to_str().ok_or_else(|| StoreError(format!("{}: not UTF-8", file.display())))?;
        self.with(|c| c.execute("VACUUM INTO ?1", params![target]).map(|_| ()))
    }

    /// Flushes the WAL into the main file (on shutdown).
    pub fn checkpoint(&self) -> Result<()> {
        self.with(|c| c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);"))
    }
}

/// Columns added after the first release; old databases get them on open.
fn migrate(conn: &Connection) -> Result<()> {
    let has = |table: &str, column: &str| -> Result<bool> {
        let mut st = conn.prepare(&format!("PRAGMA table_info({table})"))?;
        let names = st.query_map([], |r| r.get::<_, String>(1))?.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(names.iter().any(|n| n == column))
    };
    if !has("rooms", "creator")? {
        // Rooms from before the migration belong to nobody: they count only towards `max_rooms`.
        conn.execute_batch("ALTER TABLE rooms ADD COLUMN creator TEXT")?;
    }
    conn.execute_batch("CREATE INDEX IF NOT EXISTS rooms_creator ON rooms (creator)")?;
    if !has("accounts", "skeleton")? {
        conn.execute_batch("ALTER TABLE accounts ADD COLUMN skeleton TEXT")?;
    }
    // Fill skeletons of accounts stored before (or by the CLI), so lookalikes of them are refused too.
    let missing: Vec<String> = {
        let mut st = conn.prepare("SELECT name FROM accounts WHERE skeleton IS NULL")?;
        let rows = st.query_map([], |r| r.get(0))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    for name in missing {
        conn.execute(
            "UPDATE accounts SET skeleton = ?2 WHERE name = ?1",
            params![name, crate::names::skeleton(&name)],
        )?;
    }
    conn.execute_batch("CREATE INDEX IF NOT EXISTS accounts_skeleton ON accounts (skeleton)")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp() -> (Store, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("dmc-store-{}-{}", std::process::id(), rand::random::<u64>()));
        (Store::open(&dir).unwrap(), dir)
    }

    #[test]
    fn accounts_rooms_kv() {
        let (s, dir) = temp();
        assert!(s.add_account("alice", "h").unwrap());
        assert!(!s.add_account("alice", "h2").unwrap());
        assert_eq!(s.account("alice").unwrap().unwrap().hash, "h");
        assert!(Store::open_existing(&dir.join("nope")).is_err());
        assert!(s.set_banned("alice", true).unwrap());
        assert!(s.account("alice").unwrap().unwrap().banned);
        assert!(s.set_hash("alice", "h3").unwrap() && !s.set_hash("zed", "h").unwrap());
        assert!(s.set_admin("alice", true).unwrap() && !s.set_admin("alice", true).unwrap());
        assert_eq!(s.admins().unwrap(), vec!["alice"]);
        assert!(s.add_account("bob", "h").unwrap() && s.delete_account("bob").unwrap());
        assert!(!s.account_exists("bob").unwrap());
        assert!(s.add_room("b").unwrap() && s.add_room("a").unwrap());
        assert_eq!(s.rooms().unwrap(), vec!["b", "a"]);
        s.kv_set("ignore", "alice/bob", "1").unwrap();
        s.kv_set("ignore", "alice/carol", "1").unwrap();
        s.kv_set("ignore", "alicex/carol", "1").unwrap();
        assert_eq!(s.kv_list("ignore", "alice/").unwrap().len(), 2);
        assert!(s.kv_delete("ignore", "alice/bob").unwrap());
        assert_eq!(s.kv_increment("dice", "n", 5).unwrap(), Some(5));
        assert_eq!(s.kv_increment("dice", "n", -2).unwrap(), Some(3));
        assert_eq!(s.kv_increment("ignore", "alice/carol", 1).unwrap(), Some(2));
        s.kv_set("dice", "word", "x").unwrap();
        assert_eq!(s.kv_increment("dice", "word", 1).unwrap(), None);
        assert!(s.kv_compare_and_set("dice", "c", None, Some("a")).unwrap());
        assert!(!s.kv_compare_and_set("dice", "c", None, Some("b")).unwrap());
        assert!(s.kv_compare_and_set("dice", "c", Some("a"), None).unwrap());
        assert_eq!(s.kv_get("dice", "c").unwrap(), None);
        s.kv_set("ignore", "alice/carol", "1").unwrap();
        drop(s);
        let s = Store::open(&dir).unwrap();
        assert!(s.account_exists("alice").unwrap());
        assert_eq!(s.kv_get("ignore", "alice/carol").unwrap().as_deref(), Some("1"));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn old_databases_are_migrated() {
        let dir = std::env::temp_dir().join(format!("dmc-store-old-{}-{}", std::process::id(), rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        let c = Connection::open(dir.join("dmconnect.db")).unwrap();
        c.execute_batch(
            "CREATE TABLE accounts (name TEXT PRIMARY KEY, hash TEXT NOT NULL, banned INTEGER NOT NULL DEFAULT 0,
                 created INTEGER NOT NULL DEFAULT (strftime('%s','now')));
             CREATE TABLE rooms (seq INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE);
             INSERT INTO accounts (name, hash) VALUES ('admin', 'h');
             INSERT INTO rooms (name) VALUES ('old');",
        )
        .unwrap();
        drop(c);
        let s = Store::open(&dir).unwrap();
        assert_eq!(s.rooms().unwrap(), vec!["old"]);
        assert!(s.account_or_lookalike_exists("\u{430}dmin", &crate::names::skeleton("\u{430}dmin")).unwrap());
        assert!(!s.add_account_checked("\u{430}dmin", &crate::names::skeleton("\u{430}dmin"), "h").unwrap());
        assert!(s.add_room_by("new", "bob").unwrap());
        assert_eq!(s.rooms_created_by("bob").unwrap(), 1);
        assert_eq!(s.account("admin").unwrap().unwrap().hash, "h");
        let _ = std::fs::remove_dir_all(dir);
    }
}
