//! The SQLite backend (rusqlite, WAL): one process, nothing else to run.

use super::migrate;
use super::{incremented, Account, Backend, Result, StoreError};
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;
use std::sync::Mutex;

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::new(e.to_string())
    }
}

/// One connection, serialised by a lock (SQLite has one writer anyway).
pub(crate) struct Sqlite {
    conn: Mutex<Connection>,
}

impl Sqlite {
    /// Opens (creating and migrating if needed) `DIR/dmconnect.db`.
    pub(crate) fn open(dir: &Path) -> Result<Sqlite> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::new(format!("{}: {e}", dir.display())))?;
        let mut conn = Connection::open(super::Store::db_path(dir))?;
        // WAL + FULL: a success reply is only sent after the commit reached the disk.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrate_sqlite(&mut conn)?;
        Ok(Sqlite { conn: Mutex::new(conn) })
    }

    fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T> {
        let conn = crate::sync::lock(&self.conn);
        Ok(f(&conn)?)
    }
}

fn current_version(c: &Connection) -> rusqlite::Result<u32> {
    c.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_version", [], |r| r.get(0))
}

fn get_kv(c: &Connection, ns: &str, key: &str) -> rusqlite::Result<Option<String>> {
    c.query_row("SELECT value FROM kv WHERE ns = ?1 AND key = ?2", params![ns, key], |r| r.get(0)).optional()
}

/// Sets a value, or deletes it when `value` is none.
fn put_kv(c: &Connection, ns: &str, key: &str, value: Option<&str>) -> rusqlite::Result<()> {
    match value {
        Some(v) => c.execute(
            "INSERT INTO kv (ns, key, value) VALUES (?1, ?2, ?3)
             ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value",
            params![ns, key, v],
        )?,
        None => c.execute("DELETE FROM kv WHERE ns = ?1 AND key = ?2", params![ns, key])?,
    };
    Ok(())
}

fn has_column(c: &Connection, table: &str, column: &str) -> rusqlite::Result<bool> {
    let mut st = c.prepare(&format!("PRAGMA table_info({table})"))?;
    let names = st.query_map([], |r| r.get::<_, String>(1))?.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(names.iter().any(|n| n == column))
}

fn migrate_sqlite(conn: &mut Connection) -> Result<()> {
    conn.execute_batch(migrate::VERSION_TABLE)?;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    for step in migrate::pending(current_version(&tx)?)? {
        tracing::info!(version = step.version, "sqlite: migrating: {}", step.what);
        for (table, column, ty) in step.columns {
            if !has_column(&tx, table, column)? {
                tx.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {ty}"))?;
            }
        }
        tx.execute_batch(step.sqlite)?;
        tx.execute(
            "INSERT INTO schema_version (version, applied) VALUES (?1, datetime('now'))",
            params![step.version],
        )?;
    }
    Ok(tx.commit()?)
}

impl Backend for Sqlite {
    fn add_account(&self, name: &str, hash: &str) -> Result<bool> {
        self.with(|c| {
            let n = c.execute(
                "INSERT OR IGNORE INTO accounts (name, hash, skeleton) VALUES (?1, ?2, ?3)",
                params![name, hash, crate::names::skeleton(name)],
            )?;
            Ok(n == 1)
        })
    }

    fn account(&self, name: &str) -> Result<Option<Account>> {
        self.with(|c| {
            c.query_row("SELECT name, hash, banned FROM accounts WHERE name = ?1", params![name], |r| {
                Ok(Account { name: r.get(0)?, hash: r.get(1)?, banned: r.get::<_, i64>(2)? != 0 })
            })
            .optional()
        })
    }

    fn account_exists(&self, name: &str) -> Result<bool> {
        self.with(|c| {
            c.query_row("SELECT 1 FROM accounts WHERE name = ?1", params![name], |_| Ok(()))
                .optional()
                .map(|r| r.is_some())
        })
    }

    fn accounts(&self) -> Result<Vec<(String, bool)>> {
        self.with(|c| {
            let mut st = c.prepare("SELECT name, banned FROM accounts ORDER BY name")?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? != 0)))?;
            rows.collect()
        })
    }

    fn set_banned(&self, name: &str, banned: bool) -> Result<bool> {
        self.with(|c| {
            Ok(c.execute("UPDATE accounts SET banned = ?2 WHERE name = ?1", params![name, banned as i64])? == 1)
        })
    }

    fn rooms(&self) -> Result<Vec<String>> {
        self.with(|c| {
            let mut st = c.prepare("SELECT name FROM rooms ORDER BY seq")?;
            let rows = st.query_map([], |r| r.get(0))?;
            rows.collect()
        })
    }

    fn add_room(&self, name: &str) -> Result<bool> {
        self.with(|c| Ok(c.execute("INSERT OR IGNORE INTO rooms (name) VALUES (?1)", params![name])? == 1))
    }

    fn delete_room(&self, name: &str) -> Result<bool> {
        self.with(|c| Ok(c.execute("DELETE FROM rooms WHERE name = ?1", params![name])? == 1))
    }

    fn kv_get(&self, ns: &str, key: &str) -> Result<Option<String>> {
        self.with(|c| get_kv(c, ns, key))
    }

    fn kv_set(&self, ns: &str, key: &str, value: &str) -> Result<()> {
        self.with(|c| put_kv(c, ns, key, Some(value)))
    }

    fn kv_delete(&self, ns: &str, key: &str) -> Result<bool> {
        self.with(|c| Ok(c.execute("DELETE FROM kv WHERE ns = ?1 AND key = ?2", params![ns, key])? == 1))
    }

    fn kv_list(&self, ns: &str, prefix: &str) -> Result<Vec<(String, String)>> {
        self.with(|c| {
            let mut st =
                c.prepare("SELECT key, value FROM kv WHERE ns = ?1 AND substr(key, 1, ?3) = ?2 ORDER BY key")?;
            let rows =
                st.query_map(params![ns, prefix, prefix.chars().count() as i64], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })
    }

    fn add_account_checked(&self, name: &str, skeleton: &str, hash: &str) -> Result<bool> {
        self.with(|c| {
            let n = c.execute(
                "INSERT OR IGNORE INTO accounts (name, hash, skeleton) SELECT ?1, ?2, ?3
                 WHERE NOT EXISTS (SELECT 1 FROM accounts WHERE skeleton = ?3)",
                params![name, hash, skeleton],
            )?;
            Ok(n == 1)
        })
    }

    fn account_or_lookalike_exists(&self, name: &str, skeleton: &str) -> Result<bool> {
        self.with(|c| {
            c.query_row("SELECT 1 FROM accounts WHERE name = ?1 OR skeleton = ?2", params![name, skeleton], |_| Ok(()))
                .optional()
                .map(|r| r.is_some())
        })
    }

    fn accounts_without_skeleton(&self) -> Result<Vec<String>> {
        self.with(|c| {
            let mut st = c.prepare("SELECT name FROM accounts WHERE skeleton IS NULL")?;
            let rows = st.query_map([], |r| r.get(0))?;
            rows.collect()
        })
    }

    fn set_skeleton(&self, name: &str, skeleton: &str) -> Result<()> {
        self.with(|c| {
            c.execute("UPDATE accounts SET skeleton = ?2 WHERE name = ?1", params![name, skeleton]).map(|_| ())
        })
    }

    fn add_room_by(&self, name: &str, creator: &str) -> Result<bool> {
        self.with(|c| {
            Ok(c.execute("INSERT OR IGNORE INTO rooms (name, creator) VALUES (?1, ?2)", params![name, creator])? == 1)
        })
    }

    fn rooms_created_by(&self, creator: &str) -> Result<usize> {
        self.with(|c| {
            c.query_row("SELECT COUNT(*) FROM rooms WHERE creator = ?1", params![creator], |r| r.get::<_, i64>(0))
                .map(|n| n as usize)
        })
    }

    fn kv_increment(&self, ns: &str, key: &str, delta: i64) -> Result<Option<i64>> {
        self.with(|c| {
            let tx = c.unchecked_transaction()?;
            let Some(new) = incremented(get_kv(&tx, ns, key)?.as_deref(), delta) else { return Ok(None) };
            put_kv(&tx, ns, key, Some(&new.to_string()))?;
            tx.commit()?;
            Ok(Some(new))
        })
    }

    fn kv_compare_and_set(&self, ns: &str, key: &str, expected: Option<&str>, new: Option<&str>) -> Result<bool> {
        self.with(|c| {
            let tx = c.unchecked_transaction()?;
            if get_kv(&tx, ns, key)?.as_deref() != expected {
                return Ok(false);
            }
            put_kv(&tx, ns, key, new)?;
            tx.commit()?;
            Ok(true)
        })
    }

    fn set_hash(&self, name: &str, hash: &str) -> Result<bool> {
        self.with(|c| Ok(c.execute("UPDATE accounts SET hash = ?2 WHERE name = ?1", params![name, hash])? == 1))
    }

    fn delete_account(&self, name: &str) -> Result<bool> {
        self.with(|c| {
            let tx = c.unchecked_transaction()?;
            tx.execute("DELETE FROM admins WHERE name = ?1", params![name])?;
            let n = tx.execute("DELETE FROM accounts WHERE name = ?1", params![name])?;
            tx.commit()?;
            Ok(n == 1)
        })
    }

    fn admins(&self) -> Result<Vec<String>> {
        self.with(|c| {
            let mut st = c.prepare("SELECT name FROM admins ORDER BY name")?;
            let rows = st.query_map([], |r| r.get(0))?;
            rows.collect()
        })
    }

    fn set_admin(&self, name: &str, admin: bool) -> Result<bool> {
        let sql = if admin {
            "INSERT OR IGNORE INTO admins (name) VALUES (?1)"
        } else {
            "DELETE FROM admins WHERE name = ?1"
        };
        self.with(|c| Ok(c.execute(sql, params![name])? == 1))
    }

    fn backup_to(&self, file: &Path) -> Result<()> {
        let target = file.to_str().ok_or_else(|| StoreError::new(format!("{}: not UTF-8", file.display())))?;
        self.with(|c| c.execute("VACUUM INTO ?1", params![target]).map(|_| ()))
    }

    fn schema_version(&self) -> Result<u32> {
        self.with(current_version)
    }

    fn checkpoint(&self) -> Result<()> {
        self.with(|c| c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);"))
    }
}
