//! Storage behind one small API with two backends: SQLite (one process, the
//! default) and PostgreSQL (cluster mode). Nothing else opens a database, and
//! nothing outside this module knows which backend runs.
//!
//! Every method blocks until the change is committed: async code goes through
//! [`Store::run`], which moves the call off the async workers (SQLite: its one
//! storage thread; PostgreSQL: tokio's blocking pool).

mod migrate;
mod postgres;
mod sqlite;

use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// A storage failure (the database is broken, unreachable or the disk is full).
#[derive(Debug)]
pub struct StoreError(String);

impl StoreError {
    /// A failure described by `text`.
    pub fn new(text: impl Into<String>) -> Self {
        StoreError(text.into())
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "storage error: {}", self.0)
    }
}

impl std::error::Error for StoreError {}

/// What a storage call returns.
pub type Result<T> = std::result::Result<T, StoreError>;

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

/// The integer after adding `delta` to a stored value (absent = 0), if it is one.
fn incremented(old: Option<&str>, delta: i64) -> Option<i64> {
    old.map_or(Some(0), |v| v.trim().parse::<i64>().ok()).and_then(|n| n.checked_add(delta))
}

/// What each backend implements; every call returns after the commit.
pub trait Backend: Send + Sync {
    /// Adds an account; `Ok(false)` if the name is taken.
    fn add_account(&self, name: &str, hash: &str) -> Result<bool>;
    /// Looks an account up.
    fn account(&self, name: &str) -> Result<Option<Account>>;
    /// Does an account exist?
    fn account_exists(&self, name: &str) -> Result<bool> {
        Ok(self.account(name)?.is_some())
    }
    /// All accounts, by name: (name, banned).
    fn accounts(&self) -> Result<Vec<(String, bool)>>;
    /// Sets or clears an account's ban; `Ok(false)` if no such account.
    fn set_banned(&self, name: &str, banned: bool) -> Result<bool>;
    /// Stored subservers in creation order.
    fn rooms(&self) -> Result<Vec<String>>;
    /// Adds a subserver; `Ok(false)` if it exists.
    fn add_room(&self, name: &str) -> Result<bool>;
    /// Deletes a subserver; `Ok(false)` if it did not exist.
    fn delete_room(&self, name: &str) -> Result<bool>;
    /// A capability's stored value.
    fn kv_get(&self, ns: &str, key: &str) -> Result<Option<String>>;
    /// Stores a capability's value.
    fn kv_set(&self, ns: &str, key: &str, value: &str) -> Result<()>;
    /// Deletes a capability's value; `Ok(false)` if there was none.
    fn kv_delete(&self, ns: &str, key: &str) -> Result<bool>;
    /// A capability's values whose keys start with `prefix`, by key.
    fn kv_list(&self, ns: &str, prefix: &str) -> Result<Vec<(String, String)>>;
    /// Adds an account with its confusable skeleton; `Ok(false)` if the name or a
    /// lookalike (same skeleton) is taken.
    fn add_account_checked(&self, name: &str, skeleton: &str, hash: &str) -> Result<bool>;
    /// Is a name or a lookalike of it (same skeleton) taken?
    fn account_or_lookalike_exists(&self, name: &str, skeleton: &str) -> Result<bool>;
    /// Accounts stored without a skeleton (older ones, or added by the CLI).
    fn accounts_without_skeleton(&self) -> Result<Vec<String>>;
    /// Records an account's skeleton.
    fn set_skeleton(&self, name: &str, skeleton: &str) -> Result<()>;
    /// Adds a subserver created by `creator`; `Ok(false)` if it exists.
    fn add_room_by(&self, name: &str, creator: &str) -> Result<bool>;
    /// How many subservers `creator` created.
    fn rooms_created_by(&self, creator: &str) -> Result<usize>;
    /// Adds `delta` to an integer value (absent = 0) atomically; `Ok(None)` if the
    /// value is not an integer or the sum overflows.
    fn kv_increment(&self, ns: &str, key: &str, delta: i64) -> Result<Option<i64>>;
    /// Sets (or, with `new` none, deletes) a value only if it is `expected`
    /// (none = absent), atomically; `Ok(false)` if it was not.
    fn kv_compare_and_set(&self, ns: &str, key: &str, expected: Option<&str>, new: Option<&str>) -> Result<bool>;
    /// Replaces an account's password hash; `Ok(false)` if no such account.
    fn set_hash(&self, name: &str, hash: &str) -> Result<bool>;
    /// Deletes an account (and its administrator entry); `Ok(false)` if no such account.
    fn delete_account(&self, name: &str) -> Result<bool>;
    /// Administrators kept in the database (besides `[server] admins`), by name.
    fn admins(&self) -> Result<Vec<String>>;
    /// Adds or removes a stored administrator; `Ok(false)` if nothing changed.
    fn set_admin(&self, name: &str, admin: bool) -> Result<bool>;
    /// Writes a consistent copy of the database to `file` (SQLite only; PostgreSQL has `pg_dump`).
    fn backup_to(&self, file: &Path) -> Result<()>;
    /// The schema version the database is at (see `migrate.rs`).
    fn schema_version(&self) -> Result<u32>;
    /// Makes everything durable before shutdown (SQLite: flush the WAL).
    fn checkpoint(&self) -> Result<()> {
        Ok(())
    }
}

type Job = Box<dyn FnOnce(&Store) + Send>;

/// Fills in missing account skeletons (the rule is code, not SQL); returns how many.
fn backend_fill_skeletons(b: &dyn Backend) -> Result<usize> {
    let names = b.accounts_without_skeleton()?;
    for n in &names {
        b.set_skeleton(n, &crate::names::skeleton(n))?;
    }
    Ok(names.len())
}

/// The database handle; cheap to clone. Derefs to the [`Backend`] calls.
#[derive(Clone)]
pub struct Store {
    backend: Arc<dyn Backend>,
    /// SQLite's storage thread; `None`: calls go to tokio's blocking pool.
    jobs: Option<std::sync::mpsc::Sender<Job>>,
}

impl std::ops::Deref for Store {
    type Target = dyn Backend;
    fn deref(&self) -> &Self::Target {
        &*self.backend
    }
}

impl Store {
    /// The SQLite database file inside a data directory.
    pub fn db_path(dir: &Path) -> std::path::PathBuf {
        dir.join("dmconnect.db")
    }

    /// Opens an existing SQLite `DIR/dmconnect.db`; never creates one (command-line tools).
    pub fn open_existing(dir: &Path) -> Result<Store> {
        if !Self::db_path(dir).is_file() {
            return Err(StoreError(format!("no database at {}", Self::db_path(dir).display())));
        }
        Self::open(dir)
    }

    /// Opens (creating and migrating if needed) SQLite at `DIR/dmconnect.db`.
    pub fn open(dir: &Path) -> Result<Store> {
        let backend: Arc<dyn Backend> = Arc::new(sqlite::Sqlite::open(dir)?);
        // Accounts stored before skeletons (or by older builds) get theirs, so lookalikes of them are refused too.
        backend_fill_skeletons(&*backend)?;
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let store = Store { backend, jobs: Some(tx) };
        // One thread runs the async side's queries: SQLite serialises writers
        // anyway, and a login storm then cannot fan out into many blocking threads.
        let worker = store.clone();
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

    /// Connects (and migrates) PostgreSQL at `url` with a pool of `pool_size` connections.
    pub async fn connect_postgres(url: &str, pool_size: usize, timeout: std::time::Duration) -> Result<Store> {
        let backend = postgres::Postgres::connect(url, pool_size, timeout).await?;
        let backend = tokio::task::spawn_blocking(move || backend_fill_skeletons(&backend).map(|_| backend))
            .await
            .map_err(|_| StoreError("storage task failed".into()))??;
        Ok(Store { backend: Arc::new(backend), jobs: None })
    }

    /// Runs blocking storage work off the async workers.
    pub async fn run<T: Send + 'static>(&self, f: impl FnOnce(&Store) -> Result<T> + Send + 'static) -> Result<T> {
        let Some(jobs) = &self.jobs else {
            let store = self.clone();
            return tokio::task::spawn_blocking(move || f(&store))
                .await
                .map_err(|_| StoreError("storage task failed".into()))?;
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |s| {
            let _ = tx.send(f(s));
        });
        jobs.send(job).map_err(|_| StoreError("the storage thread has stopped".into()))?;
        rx.await.map_err(|_| StoreError("storage task failed".into()))?
    }
}

#[cfg(test)]
pub(crate) mod tests;
