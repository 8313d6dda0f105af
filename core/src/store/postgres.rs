//! The PostgreSQL backend (tokio-postgres + deadpool-postgres): what cluster
//! nodes share. Queries run on a small runtime of their own, so the blocking
//! [`Backend`] calls work from any thread (storage jobs, plugin threads) and
//! never stall the server's async workers on a pool connection's I/O task.

use super::migrate;
use super::{incremented, Account, Backend, Result, StoreError};
use deadpool_postgres::{GenericClient, Pool, Runtime};
use std::future::Future;
use std::path::Path;
use std::time::Duration;
use tokio_postgres::NoTls;

/// Any driver or pool failure, as text.
fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError::new(format!("postgresql: {e}"))
}

/// A pool of connections and the runtime that drives them.
pub(crate) struct Postgres {
    pool: Pool,
    rt: OwnRuntime,
    timeout: Duration,
}

/// The pool's runtime; dropped without blocking (async code may drop a store).
struct OwnRuntime(Option<tokio::runtime::Runtime>);

impl Drop for OwnRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

impl Postgres {
    /// Connects, checks the server answers within `timeout`, and migrates.
    pub(crate) async fn connect(url: &str, pool_size: usize, timeout: Duration) -> Result<Postgres> {
        let rt = OwnRuntime(Some(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("dmconnect-pg")
                .enable_all()
                .build()
                .map_err(|e| StoreError::new(format!("cannot start the postgresql runtime: {e}")))?,
        ));
        let Some(handle) = rt.0.as_ref().map(|r| r.handle().clone()) else { return Err(err("no runtime")) };
        let mut cfg = deadpool_postgres::Config::new();
        cfg.url = Some(url.to_owned());
        cfg.pool = Some(deadpool_postgres::PoolConfig {
            max_size: pool_size.max(1),
            timeouts: deadpool_postgres::Timeouts {
                wait: Some(timeout),
                create: Some(timeout),
                recycle: Some(timeout),
            },
            ..Default::default()
        });
        // Connections are made inside `pool.get()`, which only runs on `rt`:
        // their I/O tasks live there.
        let pool = cfg.create_pool(Some(Runtime::Tokio1), NoTls).map_err(err)?;
        let p = pool.clone();
        let migrated = handle.spawn(async move { tokio::time::timeout(timeout * 4, migrate_pg(p)).await });
        match migrated.await {
            Ok(Ok(r)) => r?,
            Ok(Err(_)) => return Err(err(format!("no answer within {} ms", (timeout * 4).as_millis()))),
            Err(e) => return Err(err(e)),
        }
        Ok(Postgres { pool, rt, timeout })
    }

    /// Runs `f` on the pool's runtime and waits for its result, bounded by the timeout.
    fn call<T, F>(&self, f: impl FnOnce(Pool) -> F) -> Result<T>
    where
        T: Send + 'static,
        F: Future<Output = Result<T>> + Send + 'static,
    {
        let Some(rt) = &self.rt.0 else { return Err(err("shut down")) };
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let fut = f(self.pool.clone());
        let timeout = self.timeout;
        rt.spawn(async move {
            let r = match tokio::time::timeout(timeout, fut).await {
                Ok(r) => r,
                Err(_) => Err(err(format!("no answer within {} ms", timeout.as_millis()))),
            };
            let _ = tx.send(r);
        });
        rx.recv().map_err(|_| err("query task failed"))?
    }

    /// Runs one statement; returns the number of rows it changed.
    fn execute(&self, sql: &'static str, args: Vec<String>) -> Result<u64> {
        self.call(move |pool| async move {
            let c = pool.get().await.map_err(err)?;
            let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
                args.iter().map(|a| a as &(dyn tokio_postgres::types::ToSql + Sync)).collect();
            c.execute(sql, &params).await.map_err(err)
        })
    }

    /// Runs one query; `row` turns each row into a value.
    fn query<T: Send + 'static>(
        &self,
        sql: &'static str,
        args: Vec<String>,
        row: fn(&tokio_postgres::Row) -> T,
    ) -> Result<Vec<T>> {
        self.call(move |pool| async move {
            let c = pool.get().await.map_err(err)?;
            let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
                args.iter().map(|a| a as &(dyn tokio_postgres::types::ToSql + Sync)).collect();
            Ok(c.query(sql, &params).await.map_err(err)?.iter().map(row).collect())
        })
    }
}

async fn migrate_pg(pool: Pool) -> Result<()> {
    let mut c = pool.get().await.map_err(err)?;
    let tx = c.transaction().await.map_err(err)?;
    // Nodes starting together: one migrates, the others wait and then find nothing to do.
    tx.batch_execute("SELECT pg_advisory_xact_lock(4243942)").await.map_err(err)?;
    tx.batch_execute(migrate::VERSION_TABLE).await.map_err(err)?;
    let current: i32 =
        tx.query_one("SELECT COALESCE(MAX(version), 0) FROM schema_version", &[]).await.map_err(err)?.get(0);
    for step in migrate::pending(current as u32)? {
        tracing::info!(version = step.version, "postgresql: migrating: {}", step.what);
        for (table, column, ty) in step.columns {
            tx.batch_execute(&format!("ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {ty}"))
                .await
                .map_err(err)?;
        }
        tx.batch_execute(step.postgres).await.map_err(err)?;
        tx.execute("INSERT INTO schema_version (version, applied) VALUES ($1, now()::text)", &[&(step.version as i32)])
            .await
            .map_err(err)?;
    }
    tx.commit().await.map_err(err)
}

/// Sets a value, or deletes it when `value` is none.
async fn put_kv(c: &impl GenericClient, ns: &str, key: &str, value: Option<&str>) -> Result<u64> {
    let r = match value {
        Some(v) => {
            let sql = "INSERT INTO kv (ns, key, value) VALUES ($1, $2, $3)
                       ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value";
            c.execute(sql, &[&ns, &key, &v]).await
        }
        None => c.execute("DELETE FROM kv WHERE ns = $1 AND key = $2", &[&ns, &key]).await,
    };
    r.map_err(err)
}

/// The value, under a row lock held until the transaction ends.
async fn locked_kv(tx: &impl GenericClient, ns: &str, key: &str) -> Result<Option<String>> {
    let sql = "SELECT value FROM kv WHERE ns = $1 AND key = $2 FOR UPDATE";
    Ok(tx.query_opt(sql, &[&ns, &key]).await.map_err(err)?.map(|r| r.get(0)))
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

impl Backend for Postgres {
    fn add_account(&self, name: &str, hash: &str) -> Result<bool> {
        let sql = "INSERT INTO accounts (name, hash, skeleton) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";
        Ok(self.execute(sql, strings(&[name, hash, &crate::names::skeleton(name)]))? == 1)
    }

    fn account(&self, name: &str) -> Result<Option<Account>> {
        let sql = "SELECT name, hash, banned FROM accounts WHERE name = $1";
        let rows =
            self.query(sql, strings(&[name]), |r| Account { name: r.get(0), hash: r.get(1), banned: r.get(2) })?;
        Ok(rows.into_iter().next())
    }

    fn accounts(&self) -> Result<Vec<(String, bool)>> {
        self.query("SELECT name, banned FROM accounts ORDER BY name COLLATE \"C\"", vec![], |r| (r.get(0), r.get(1)))
    }

    fn set_banned(&self, name: &str, banned: bool) -> Result<bool> {
        let sql = "UPDATE accounts SET banned = ($2 = 'true') WHERE name = $1";
        Ok(self.execute(sql, strings(&[name, &banned.to_string()]))? == 1)
    }

    fn rooms(&self) -> Result<Vec<String>> {
        self.query("SELECT name FROM rooms ORDER BY seq", vec![], |r| r.get(0))
    }

    fn add_room(&self, name: &str) -> Result<bool> {
        Ok(self.execute("INSERT INTO rooms (name) VALUES ($1) ON CONFLICT DO NOTHING", strings(&[name]))? == 1)
    }

    fn delete_room(&self, name: &str) -> Result<bool> {
        Ok(self.execute("DELETE FROM rooms WHERE name = $1", strings(&[name]))? == 1)
    }

    fn kv_get(&self, ns: &str, key: &str) -> Result<Option<String>> {
        let sql = "SELECT value FROM kv WHERE ns = $1 AND key = $2";
        Ok(self.query(sql, strings(&[ns, key]), |r| r.get(0))?.into_iter().next())
    }

    fn kv_set(&self, ns: &str, key: &str, value: &str) -> Result<()> {
        let sql = "INSERT INTO kv (ns, key, value) VALUES ($1, $2, $3)
                   ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value";
        self.execute(sql, strings(&[ns, key, value])).map(|_| ())
    }

    fn kv_delete(&self, ns: &str, key: &str) -> Result<bool> {
        Ok(self.execute("DELETE FROM kv WHERE ns = $1 AND key = $2", strings(&[ns, key]))? == 1)
    }

    fn kv_list(&self, ns: &str, prefix: &str) -> Result<Vec<(String, String)>> {
        let sql = "SELECT key, value FROM kv WHERE ns = $1 AND starts_with(key, $2) ORDER BY key COLLATE \"C\"";
        self.query(sql, strings(&[ns, prefix]), |r| (r.get(0), r.get(1)))
    }

    fn add_account_checked(&self, name: &str, skeleton: &str, hash: &str) -> Result<bool> {
        // One statement; two nodes registering lookalikes in the same instant could both pass.
        let sql = "INSERT INTO accounts (name, hash, skeleton) SELECT $1, $2, $3
                   WHERE NOT EXISTS (SELECT 1 FROM accounts WHERE skeleton = $3) ON CONFLICT DO NOTHING";
        Ok(self.execute(sql, strings(&[name, hash, skeleton]))? == 1)
    }

    fn account_or_lookalike_exists(&self, name: &str, skeleton: &str) -> Result<bool> {
        let sql = "SELECT 1 FROM accounts WHERE name = $1 OR skeleton = $2 LIMIT 1";
        Ok(!self.query(sql, strings(&[name, skeleton]), |_| ())?.is_empty())
    }

    fn accounts_without_skeleton(&self) -> Result<Vec<String>> {
        self.query("SELECT name FROM accounts WHERE skeleton IS NULL", vec![], |r| r.get(0))
    }

    fn set_skeleton(&self, name: &str, skeleton: &str) -> Result<()> {
        self.execute("UPDATE accounts SET skeleton = $2 WHERE name = $1", strings(&[name, skeleton])).map(|_| ())
    }

    fn add_room_by(&self, name: &str, creator: &str) -> Result<bool> {
        let sql = "INSERT INTO rooms (name, creator) VALUES ($1, $2) ON CONFLICT DO NOTHING";
        Ok(self.execute(sql, strings(&[name, creator]))? == 1)
    }

    fn rooms_created_by(&self, creator: &str) -> Result<usize> {
        let rows =
            self.query("SELECT COUNT(*) FROM rooms WHERE creator = $1", strings(&[creator]), |r| r.get::<_, i64>(0))?;
        Ok(rows.first().copied().unwrap_or(0) as usize)
    }

    fn kv_increment(&self, ns: &str, key: &str, delta: i64) -> Result<Option<i64>> {
        let (ns, key) = (ns.to_owned(), key.to_owned());
        self.call(move |pool| async move {
            let mut c = pool.get().await.map_err(err)?;
            let tx = c.transaction().await.map_err(err)?;
            // An absent value counts as 0: create it so that concurrent increments lock the same row.
            let seed = "INSERT INTO kv (ns, key, value) VALUES ($1, $2, '0') ON CONFLICT DO NOTHING";
            tx.execute(seed, &[&ns, &key]).await.map_err(err)?;
            let old = locked_kv(&tx, &ns, &key).await?;
            let Some(new) = incremented(old.as_deref(), delta) else { return Ok(None) }; // rolled back
            put_kv(&tx, &ns, &key, Some(&new.to_string())).await?;
            tx.commit().await.map_err(err)?;
            Ok(Some(new))
        })
    }

    fn kv_compare_and_set(&self, ns: &str, key: &str, expected: Option<&str>, new: Option<&str>) -> Result<bool> {
        let (ns, key) = (ns.to_owned(), key.to_owned());
        let (expected, new) = (expected.map(str::to_owned), new.map(str::to_owned));
        self.call(move |pool| async move {
            let mut c = pool.get().await.map_err(err)?;
            let Some(expected) = expected else {
                // Expected absent: an insert that does nothing if a value exists is the whole check.
                return match new {
                    Some(v) => {
                        let sql = "INSERT INTO kv (ns, key, value) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";
                        Ok(c.execute(sql, &[&ns, &key, &v]).await.map_err(err)? == 1)
                    }
                    None => {
                        let sql = "SELECT 1 FROM kv WHERE ns = $1 AND key = $2";
                        Ok(c.query_opt(sql, &[&ns, &key]).await.map_err(err)?.is_none())
                    }
                };
            };
            let tx = c.transaction().await.map_err(err)?;
            if locked_kv(&tx, &ns, &key).await?.as_deref() != Some(expected.as_str()) {
                return Ok(false);
            }
            put_kv(&tx, &ns, &key, new.as_deref()).await?;
            tx.commit().await.map_err(err)?;
            Ok(true)
        })
    }

    fn set_hash(&self, name: &str, hash: &str) -> Result<bool> {
        Ok(self.execute("UPDATE accounts SET hash = $2 WHERE name = $1", strings(&[name, hash]))? == 1)
    }

    fn delete_account(&self, name: &str) -> Result<bool> {
        let name = name.to_owned();
        self.call(move |pool| async move {
            let mut c = pool.get().await.map_err(err)?;
            let tx = c.transaction().await.map_err(err)?;
            tx.execute("DELETE FROM admins WHERE name = $1", &[&name]).await.map_err(err)?;
            let n = tx.execute("DELETE FROM accounts WHERE name = $1", &[&name]).await.map_err(err)?;
            tx.commit().await.map_err(err)?;
            Ok(n == 1)
        })
    }

    fn admins(&self) -> Result<Vec<String>> {
        self.query("SELECT name FROM admins ORDER BY name COLLATE \"C\"", vec![], |r| r.get(0))
    }

    fn set_admin(&self, name: &str, admin: bool) -> Result<bool> {
        let sql = if admin {
            "INSERT INTO admins (name) VALUES ($1) ON CONFLICT DO NOTHING"
        } else {
            "DELETE FROM admins WHERE name = $1"
        };
        Ok(self.execute(sql, strings(&[name]))? == 1)
    }

    fn backup_to(&self, _file: &Path) -> Result<()> {
        Err(StoreError::new("in cluster mode the data is in PostgreSQL: back it up with pg_dump"))
    }

    fn schema_version(&self) -> Result<u32> {
        let rows =
            self.query("SELECT COALESCE(MAX(version), 0) FROM schema_version", vec![], |r| r.get::<_, i32>(0))?;
        Ok(rows.first().copied().unwrap_or(0) as u32)
    }
}
