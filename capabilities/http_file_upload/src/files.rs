//! Where uploaded files live: `DATA_DIR/files/ID/NAME`, with a stored record
//! `file/ID` = `{"name":..,"size":..,"expires":UNIX_SECS}` that says when it goes.

use plugin_api::serde_json::{self, json, Value};
use plugin_api::Host;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Longest stored file name.
const MAX_NAME: usize = 128;

/// Keeps letters, digits, `.`, `_` and `-` (others become `_`), drops any
/// directory part and leading dots, so a name can never leave its directory.
pub fn sanitize(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String =
        base.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' }).collect();
    let clean: String = clean.trim_start_matches('.').chars().take(MAX_NAME).collect();
    if clean.is_empty() {
        "file".into()
    } else {
        clean
    }
}

/// A fresh random id (16 hex digits).
pub fn new_id() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// True for ids [`new_id`] makes.
pub fn valid_id(id: &str) -> bool {
    id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// Unix seconds now.
pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO).as_secs()
}

/// A file being written: `part` is where its bytes go until [`Files::commit`].
pub struct Pending {
    id: String,
    dir: PathBuf,
    /// The file to write.
    pub part: PathBuf,
}

/// The file store of this capability.
pub struct Files {
    host: Host,
    root: PathBuf,
    ttl: u64,
}

impl Files {
    /// The store under the capability's data directory.
    pub fn new(host: Host, ttl: u64) -> Result<Files, String> {
        let root = host.data_dir().join("files");
        std::fs::create_dir_all(&root).map_err(|e| format!("{}: {e}", root.display()))?;
        Ok(Files { host, root, ttl })
    }

    /// Starts storing a file: a fresh directory, and the path its bytes go to.
    pub fn begin(&self) -> Result<Pending, String> {
        let id = new_id();
        let dir = self.root.join(&id);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let part = dir.join(".upload.part");
        Ok(Pending { id, dir, part })
    }

    /// Puts a written file in place under `name` and records it; returns its id.
    /// On failure nothing is left behind.
    pub fn commit(&self, p: Pending, name: &str, size: u64) -> Result<String, String> {
        if let Err(e) = std::fs::rename(&p.part, p.dir.join(name)) {
            self.abandon(p);
            return Err(format!("storing an upload: {e}"));
        }
        let meta = json!({"name": name, "size": size, "expires": now() + self.ttl});
        if let Err(e) = self.host.kv_set(&format!("file/{}", p.id), &meta.to_string()) {
            self.abandon(p);
            return Err(e);
        }
        Ok(p.id)
    }

    /// Drops a file that was not stored after all.
    pub fn abandon(&self, p: Pending) {
        let _ = std::fs::remove_dir_all(&p.dir);
    }

    /// The path of a stored, unexpired file, if `id`/`name` name one.
    pub fn find(&self, id: &str, name: &str) -> Option<PathBuf> {
        if !valid_id(id) || sanitize(name) != name {
            return None;
        }
        let meta: Value = serde_json::from_str(&self.host.kv_get(&format!("file/{id}")).ok()??).ok()?;
        let fresh = meta.get("expires").and_then(Value::as_u64).is_some_and(|t| t > now());
        let path = self.root.join(id).join(name);
        (fresh && meta.get("name").and_then(Value::as_str) == Some(name) && path.is_file()).then_some(path)
    }

    /// Deletes expired files, and directories with no record left by a crash.
    pub fn expire(&self) {
        let records = match self.host.kv_list("file/") {
            Ok(r) => r,
            Err(e) => return self.host.warn(&format!("cleanup: {e}")),
        };
        let t = now();
        let mut known = std::collections::HashSet::new();
        for (key, value) in records {
            let id = key.trim_start_matches("file/").to_owned();
            let expires = serde_json::from_str::<Value>(&value).ok().and_then(|v| v.get("expires")?.as_u64());
            if expires.is_none_or(|e| e <= t) {
                self.remove(&id);
                let _ = self.host.kv_delete(&key);
            } else {
                known.insert(id);
            }
        }
        let Ok(entries) = std::fs::read_dir(&self.root) else { return };
        for entry in entries.flatten() {
            let id = entry.file_name().to_string_lossy().into_owned();
            if !known.contains(&id) && older_than(&entry.path(), self.ttl) {
                self.remove(&id);
            }
        }
    }

    fn remove(&self, id: &str) {
        if valid_id(id) {
            if let Err(e) = std::fs::remove_dir_all(self.root.join(id)) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    self.host.warn(&format!("cleanup of {id}: {e}"));
                }
            }
        }
    }
}

fn older_than(path: &Path, secs: u64) -> bool {
    let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok();
    modified.and_then(|m| m.elapsed().ok()).is_some_and(|age| age.as_secs() >= secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sanitised() {
        assert_eq!(sanitize("report 2024.pdf"), "report_2024.pdf");
        assert_eq!(sanitize("../../etc/passwd"), "passwd");
        assert_eq!(sanitize("..\\..\\boot.ini"), "boot.ini");
        assert_eq!(sanitize(".."), "file");
        assert_eq!(sanitize(".hidden"), "hidden");
        assert_eq!(sanitize("ünï<c>ode"), "_n__c_ode");
        assert_eq!(sanitize(""), "file");
        assert!(valid_id(&new_id()));
        assert!(!valid_id("../../etc"));
    }
}
