//! The `ignore` capability: per-account ignore lists. The ignored user's chat,
//! actions, join/leave notices and private messages are not delivered.
//!
//! Lists are stored under `list/ACCOUNT` (a JSON array, in the order added) and
//! loaded into memory at start: the delivery filter never touches storage.
//! In cluster mode a list changed on another node is re-read (`kv_changed`).

use plugin_api::serde_json;
use plugin_api::{Caller, Capability, Command, DeliveryKind, Host, Reply};
use std::collections::HashMap;
use std::sync::{Mutex, RwLock};

/// The capability.
pub struct Ignore {
    host: Host,
    /// account → ignored names (`user` or `user@host`).
    lists: RwLock<HashMap<String, Vec<String>>>,
    /// Serialises changes so memory and storage agree; the filter never waits on it.
    saving: Mutex<()>,
}

const SAVE_FAILED: &str = "Could not save your ignore list. Please try again later.";

fn parse(host: &Host, account: &str, value: &str) -> Option<Vec<String>> {
    serde_json::from_str::<Vec<String>>(value)
        .map_err(|e| host.warn(&format!("ignoring the unreadable stored list of {account}: {e}")))
        .ok()
}

impl Ignore {
    /// Loads every stored list.
    pub fn new(host: Host) -> Result<Ignore, String> {
        let mut lists = HashMap::new();
        for (key, value) in host.kv_list("list/")? {
            let account = key.trim_start_matches("list/").to_owned();
            if let Some(names) = parse(&host, &account, &value) {
                lists.insert(account, names);
            }
        }
        Ok(Ignore { host, lists: RwLock::new(lists), saving: Mutex::new(()) })
    }

    /// Makes the in-memory list of `account` what storage says.
    fn reread(&self, account: &str) -> Result<(), String> {
        let _guard = self.saving.lock().unwrap_or_else(|p| p.into_inner());
        let stored = self.host.kv_get(&format!("list/{account}"))?;
        let list = stored.and_then(|v| parse(&self.host, account, &v)).unwrap_or_default();
        self.show(account, list);
        Ok(())
    }

    /// Makes `list` the one the filter sees for `account` (an empty list is no entry).
    fn show(&self, account: &str, list: Vec<String>) {
        let mut lists = self.lists.write().unwrap_or_else(|p| p.into_inner());
        if list.is_empty() {
            lists.remove(account);
        } else {
            lists.insert(account.to_owned(), list);
        }
    }

    fn list_of(&self, account: &str) -> Vec<String> {
        self.lists.read().unwrap_or_else(|p| p.into_inner()).get(account).cloned().unwrap_or_default()
    }

    /// Stores the new list, then makes it the one the filter sees.
    fn save(&self, account: &str, list: Vec<String>) -> Result<(), String> {
        let key = format!("list/{account}");
        if list.is_empty() {
            self.host.kv_delete(&key)?;
        } else {
            let json = serde_json::to_string(&list).map_err(|e| e.to_string())?;
            self.host.kv_set(&key, &json)?;
        }
        self.show(account, list);
        Ok(())
    }

    /// Applies `change` to the caller's list and saves it; `change` returns the reply.
    fn edit(&self, account: &str, change: impl FnOnce(&mut Vec<String>) -> (bool, String)) -> String {
        let _guard = self.saving.lock().unwrap_or_else(|p| p.into_inner());
        let mut list = self.list_of(account);
        let (changed, reply) = change(&mut list);
        if changed {
            if let Err(e) = self.save(account, list) {
                self.host.error(&format!("saving the ignore list of {account}: {e}"));
                return SAVE_FAILED.into();
            }
        }
        reply
    }

    /// One user name argument, with `@THIS_HOST` dropped; `None` when malformed.
    fn target(&self, args: &str) -> Option<String> {
        let name = args.trim();
        if name.is_empty()
            || name.contains(char::is_whitespace)
            || name.contains(',')
            || name.contains(char::is_control)
        {
            return None;
        }
        let here = format!("@{}", self.host.host_name());
        Some(name.strip_suffix(here.as_str()).unwrap_or(name).to_owned())
    }
}

impl Capability for Ignore {
    const NAME: &'static str = "ignore";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn commands(&self) -> Vec<Command> {
        vec![
            Command::new("add", "<username>", "Ignore a user's messages"),
            Command::new("del", "<username>", "Stop ignoring a user"),
            Command::new("list", "", "Show your ignore list"),
            Command::new("clear", "", "Clear your ignore list"),
        ]
    }

    fn command(&self, command: &str, args: &str, caller: &Caller) -> Reply {
        let me = caller.account.as_str();
        match command {
            "add" | "del" => {
                let Some(user) = self.target(args) else { return Reply::Usage };
                if command == "add" {
                    if user == me {
                        return "You cannot ignore yourself.".into();
                    }
                    self.edit(me, |list| {
                        let added = !list.contains(&user);
                        if added {
                            list.push(user.clone());
                        }
                        (added, format!("Ignoring {user}."))
                    })
                } else {
                    self.edit(me, |list| match list.iter().position(|u| *u == user) {
                        Some(i) => {
                            list.remove(i);
                            (true, format!("Stopped ignoring {user}."))
                        }
                        None => (false, format!("{user} is not in your ignore list.")),
                    })
                }
                .into()
            }
            "list" => {
                let list = self.list_of(me);
                if list.is_empty() {
                    "Ignore list is empty.".into()
                } else {
                    format!("Ignore list: {}", list.join(", ")).into()
                }
            }
            _ => self
                .edit(me, |list| {
                    if list.is_empty() {
                        (false, "Ignore list is already empty.".into())
                    } else {
                        list.clear();
                        (true, "Ignore list cleared.".into())
                    }
                })
                .into(),
        }
    }

    fn filters_delivery(&self) -> bool {
        true
    }

    fn allow_delivery(&self, _kind: DeliveryKind, from: &str, to: &str) -> bool {
        let lists = self.lists.read().unwrap_or_else(|p| p.into_inner());
        lists.get(to).is_none_or(|l| !l.iter().any(|u| u == from))
    }

    fn wants_kv_changes(&self) -> bool {
        true
    }

    fn kv_changed(&self, key: &str) {
        if let Some(account) = key.strip_prefix("list/") {
            if let Err(e) = self.reread(account) {
                self.host.error(&format!("re-reading the ignore list of {account}: {e}"));
            }
        }
    }
}

plugin_api::export_capability!(Ignore::new);

#[cfg(test)]
mod tests {
    use super::*;
    use plugin_api::loader::Plugin;
    use plugin_api::testing::start_in_process;
    use plugin_api::testing::FakeHost;

    fn caller(name: &str) -> Caller {
        Caller { account: name.into(), session_id: 1, peer_ip: "127.0.0.1".parse().unwrap(), room: None }
    }

    fn run(p: &Plugin, who: &str, cmd: &str, args: &str) -> String {
        p.command(cmd, args, &caller(who)).unwrap().unwrap()
    }

    #[test]
    fn texts_filter_and_persistence() {
        let host = FakeHost::new(&["alice", "bob"]);
        let p = start_in_process(Ignore::new, host.clone()).unwrap();
        assert_eq!(run(&p, "alice", "list", ""), "Ignore list is empty.");
        assert_eq!(run(&p, "alice", "clear", ""), "Ignore list is already empty.");
        assert_eq!(run(&p, "alice", "add", ""), "Usage: /ignore-add <username>");
        assert_eq!(run(&p, "alice", "del", "a b"), "Usage: /ignore-del <username>");
        assert_eq!(run(&p, "alice", "add", "alice"), "You cannot ignore yourself.");
        assert_eq!(run(&p, "alice", "add", "bob"), "Ignoring bob.");
        assert_eq!(run(&p, "alice", "add", "bob"), "Ignoring bob.");
        assert_eq!(run(&p, "alice", "add", "carol@far.test"), "Ignoring carol@far.test.");
        assert_eq!(run(&p, "alice", "list", ""), "Ignore list: bob, carol@far.test");
        assert!(!p.allow(DeliveryKind::Pm, "bob", "alice").unwrap());
        assert!(!p.allow(DeliveryKind::Join, "carol@far.test", "alice").unwrap());
        assert!(p.allow(DeliveryKind::Chat, "alice", "bob").unwrap());
        assert_eq!(run(&p, "alice", "del", "dave"), "dave is not in your ignore list.");
        assert_eq!(run(&p, "alice", "del", "bob@here.test"), "Stopped ignoring bob.");
        assert!(p.allow(DeliveryKind::Chat, "bob", "alice").unwrap());
        // A new instance on the same storage sees the stored list.
        let again = start_in_process(Ignore::new, host.clone()).unwrap();
        assert_eq!(run(&again, "alice", "list", ""), "Ignore list: carol@far.test");
        assert_eq!(run(&again, "alice", "clear", ""), "Ignore list cleared.");
        assert!(host.lock().kv.is_empty());
        // Another node stores a list: re-read on the change feed.
        host.lock().kv.insert("list/alice".into(), r#"["bob"]"#.into());
        again.kv_changed("list/alice").unwrap();
        assert!(!again.allow(DeliveryKind::Chat, "bob", "alice").unwrap());
        assert_eq!(run(&again, "alice", "list", ""), "Ignore list: bob");
    }
}
