//! The history database: one SQLite file in the capability's data directory
//! (WAL), a table of lines and an FTS5 index over their text.

use rusqlite::{params, Connection};
use std::path::Path;

/// One stored line.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Line {
    /// Milliseconds since the Unix epoch.
    pub t: u64,
    /// `chat`, `act`, `join` or `leave`.
    pub kind: String,
    /// `user` or `user@host`.
    pub from: String,
    /// The text (empty for join and leave).
    pub text: String,
}

/// Opens (creating) the database.
pub fn open(path: &Path) -> rusqlite::Result<Connection> {
    let c = Connection::open(path)?;
    c.busy_timeout(std::time::Duration::from_secs(5))?;
    c.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         CREATE TABLE IF NOT EXISTS lines (
             id INTEGER PRIMARY KEY, room TEXT NOT NULL, t INTEGER NOT NULL,
             kind TEXT NOT NULL, sender TEXT NOT NULL, text TEXT NOT NULL);
         CREATE INDEX IF NOT EXISTS lines_room ON lines (room, id);
         CREATE VIRTUAL TABLE IF NOT EXISTS lines_fts USING fts5 (text, content = 'lines', content_rowid = 'id');
         CREATE TRIGGER IF NOT EXISTS lines_ai AFTER INSERT ON lines BEGIN
             INSERT INTO lines_fts (rowid, text) VALUES (new.id, new.text); END;
         CREATE TRIGGER IF NOT EXISTS lines_ad AFTER DELETE ON lines BEGIN
             INSERT INTO lines_fts (lines_fts, rowid, text) VALUES ('delete', old.id, old.text); END;",
    )?;
    Ok(c)
}

/// Stores lines (one transaction), then trims each touched room to `max_per_room` lines.
pub fn insert(c: &mut Connection, lines: &[(String, Line)], max_per_room: u64) -> rusqlite::Result<()> {
    let tx = c.transaction()?;
    {
        let mut st =
            tx.prepare_cached("INSERT INTO lines (room, t, kind, sender, text) VALUES (?1, ?2, ?3, ?4, ?5)")?;
        for (room, l) in lines {
            st.execute(params![room, l.t as i64, l.kind, l.from, l.text])?;
        }
        let mut rooms: Vec<&str> = lines.iter().map(|(r, _)| r.as_str()).collect();
        rooms.sort_unstable();
        rooms.dedup();
        let mut trim = tx.prepare_cached(
            "DELETE FROM lines WHERE room = ?1 AND id <= (SELECT id FROM lines WHERE room = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
        )?;
        for r in rooms {
            trim.execute(params![r, max_per_room as i64])?;
        }
    }
    tx.commit()
}

/// Deletes lines older than `before_ms`; how many went.
pub fn prune(c: &Connection, before_ms: u64) -> rusqlite::Result<usize> {
    c.execute("DELETE FROM lines WHERE t < ?1", params![before_ms as i64])
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Line> {
    Ok(Line { t: r.get::<_, i64>(0)? as u64, kind: r.get(1)?, from: r.get(2)?, text: r.get(3)? })
}

/// The newest `n` lines of a room, oldest first.
pub fn last(c: &Connection, room: &str, n: usize) -> rusqlite::Result<Vec<Line>> {
    let mut st =
        c.prepare_cached("SELECT t, kind, sender, text FROM lines WHERE room = ?1 ORDER BY id DESC LIMIT ?2")?;
    let mut v: Vec<Line> = st.query_map(params![room, n as i64], row)?.collect::<rusqlite::Result<_>>()?;
    v.reverse();
    Ok(v)
}

/// The first `n` lines of a room at or after `since_ms`, oldest first.
pub fn since(c: &Connection, room: &str, since_ms: u64, n: usize) -> rusqlite::Result<Vec<Line>> {
    let mut st =
        c.prepare_cached("SELECT t, kind, sender, text FROM lines WHERE room = ?1 AND t >= ?2 ORDER BY id LIMIT ?3")?;
    let v = st.query_map(params![room, since_ms as i64, n as i64], row)?.collect();
    v
}

/// Every word of `text` as an FTS5 phrase (so user input is never FTS syntax).
fn fts_query(text: &str) -> String {
    let words: Vec<String> = text.split_whitespace().map(|w| format!("\"{}\"", w.replace('"', "\"\""))).collect();
    words.join(" ")
}

/// Up to `n` lines of a room whose text has every word of `text`, newest first.
pub fn search(c: &Connection, room: &str, text: &str, n: usize) -> rusqlite::Result<Vec<Line>> {
    let q = fts_query(text);
    if q.is_empty() {
        return Ok(Vec::new());
    }
    let mut st = c.prepare_cached(
        "SELECT l.t, l.kind, l.sender, l.text FROM lines_fts JOIN lines l ON l.id = lines_fts.rowid
         WHERE lines_fts MATCH ?1 AND l.room = ?2 ORDER BY l.id DESC LIMIT ?3",
    )?;
    let v = st.query_map(params![q, room, n as i64], row)?.collect();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(t: u64, from: &str, text: &str) -> Line {
        Line { t, kind: "chat".into(), from: from.into(), text: text.into() }
    }

    #[test]
    fn stores_trims_searches_and_prunes() {
        let dir = std::env::temp_dir().join(format!("dmc-history-db-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut c = open(&dir.join("h.db")).unwrap();
        let batch: Vec<(String, Line)> =
            (1..=5).map(|i| ("g".to_string(), line(i * 1000, "alice", &format!("hello \"x\" {i}")))).collect();
        insert(&mut c, &batch, 3).unwrap();
        insert(&mut c, &[("other".into(), line(9000, "bob", "hello there"))], 3).unwrap();
        let texts = |v: Vec<Line>| v.into_iter().map(|l| l.text).collect::<Vec<_>>();
        assert_eq!(texts(last(&c, "g", 10).unwrap()), ["hello \"x\" 3", "hello \"x\" 4", "hello \"x\" 5"]);
        assert_eq!(texts(last(&c, "g", 1).unwrap()), ["hello \"x\" 5"]);
        assert_eq!(texts(since(&c, "g", 4000, 10).unwrap()), ["hello \"x\" 4", "hello \"x\" 5"]);
        assert_eq!(texts(search(&c, "g", "hello \"x", 2).unwrap()), ["hello \"x\" 5", "hello \"x\" 4"]);
        assert_eq!(texts(search(&c, "g", "there", 10).unwrap()), Vec::<String>::new());
        assert_eq!(texts(search(&c, "g", "AND OR (", 10).unwrap()), Vec::<String>::new());
        assert_eq!(prune(&c, 4500).unwrap(), 2);
        assert_eq!(texts(last(&c, "g", 10).unwrap()), ["hello \"x\" 5"]);
        assert_eq!(texts(search(&c, "other", "hello", 10).unwrap()), ["hello there"]);
        let _ = std::fs::remove_dir_all(dir);
    }
}
