//! Versioned schema: numbered steps, each written once per backend dialect.
//! A database records the steps it has run in `schema_version`; opening it
//! runs the missing ones in order, each in its own transaction.
//!
//! To change the schema, append a step (never edit a released one) with the
//! same effect in both dialects.

/// One schema step.
pub(crate) struct Step {
    /// Its number: 1, 2, 3, … in order.
    pub version: u32,
    /// What it does, for the log.
    pub what: &'static str,
    /// SQLite statements.
    pub sqlite: &'static str,
    /// PostgreSQL statements.
    pub postgres: &'static str,
    /// Columns `(table, column, type)` added first, skipped where they exist
    /// (databases written by builds from before versioning may have them).
    pub columns: &'static [(&'static str, &'static str, &'static str)],
}

/// Every step, oldest first.
pub(crate) const STEPS: &[Step] = &[
    Step {
        version: 1,
        what: "accounts, subservers, capability storage",
        // IF NOT EXISTS: databases made before versioning already have these tables.
        sqlite: "CREATE TABLE IF NOT EXISTS accounts (
                 name TEXT PRIMARY KEY, hash TEXT NOT NULL, banned INTEGER NOT NULL DEFAULT 0,
                 created INTEGER NOT NULL DEFAULT (strftime('%s','now')));
             CREATE TABLE IF NOT EXISTS rooms (
                 seq INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE);
             CREATE TABLE IF NOT EXISTS kv (
                 ns TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (ns, key));",
        postgres: "CREATE TABLE IF NOT EXISTS accounts (
                 name TEXT PRIMARY KEY, hash TEXT NOT NULL, banned BOOLEAN NOT NULL DEFAULT false,
                 created BIGINT NOT NULL DEFAULT extract(epoch FROM now())::bigint);
             CREATE TABLE IF NOT EXISTS rooms (
                 seq BIGSERIAL PRIMARY KEY, name TEXT NOT NULL UNIQUE);
             CREATE TABLE IF NOT EXISTS kv (
                 ns TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (ns, key));",
        columns: &[],
    },
    Step {
        version: 2,
        what: "subserver creators (per-account room limits), account name skeletons (lookalike names)",
        // Subservers from before belong to nobody; skeletons of older accounts are
        // filled in when the store opens (the rule is code, not SQL).
        sqlite: "CREATE INDEX IF NOT EXISTS rooms_creator ON rooms (creator);
                 CREATE INDEX IF NOT EXISTS accounts_skeleton ON accounts (skeleton);",
        postgres: "CREATE INDEX IF NOT EXISTS rooms_creator ON rooms (creator);
                   CREATE INDEX IF NOT EXISTS accounts_skeleton ON accounts (skeleton);",
        columns: &[("rooms", "creator", "TEXT"), ("accounts", "skeleton", "TEXT")],
    },
    Step {
        version: 3,
        what: "administrators kept in the database",
        sqlite: "CREATE TABLE IF NOT EXISTS admins (name TEXT PRIMARY KEY);",
        postgres: "CREATE TABLE IF NOT EXISTS admins (name TEXT PRIMARY KEY);",
        columns: &[],
    },
];

/// The table both backends keep their version in (created before any step).
pub(crate) const VERSION_TABLE: &str =
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied TEXT NOT NULL)";

/// The newest version this build knows.
pub(crate) fn latest() -> u32 {
    STEPS.last().map_or(0, |s| s.version)
}

/// The steps after `current`, refusing a database newer than this build.
pub(crate) fn pending(current: u32) -> Result<&'static [Step], super::StoreError> {
    if current > latest() {
        return Err(super::StoreError::new(format!(
            "the database is at schema version {current}, newer than this build ({}); upgrade dmconnect",
            latest()
        )));
    }
    Ok(&STEPS[STEPS.iter().take_while(|s| s.version <= current).count()..])
}

#[cfg(test)]
mod tests {
    #[test]
    fn steps_are_numbered_in_order() {
        for (i, s) in super::STEPS.iter().enumerate() {
            assert_eq!(s.version as usize, i + 1, "{}", s.what);
        }
        assert_eq!(super::pending(0).unwrap().len(), super::STEPS.len());
        assert!(super::pending(super::latest()).unwrap().is_empty());
        assert!(super::pending(super::latest() + 1).is_err());
    }
}
