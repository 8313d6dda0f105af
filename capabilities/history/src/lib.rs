//! `history`: the lines of this server's rooms (chat, `/act`, joins and
//! leaves; never private messages), kept in the capability's own SQLite
//! database and searchable. Lines reach it once each through the room-line
//! hook, which only queues them; a thread of its own writes them. Rooms of
//! other hosts (`room@host`) are asked of their home host with a
//! `history_request` server-to-server message.

mod db;
mod remote;
mod render;
mod time;
mod writer;

use db::Line;
use plugin_api::serde::Deserialize;
use plugin_api::{Caller, Capability, Command, DeliveryKind, Host, Reply, RoomLine};
use rusqlite::Connection;
use std::sync::Mutex;
use writer::{Job, Settings, Writer};

/// Lines `/history-last` shows by default.
const DEFAULT_LAST: usize = 20;
/// Most lines one answer holds (`/history-last`, `/history-since`).
const MAX_LINES: usize = 200;
/// Most lines `/history-search` finds.
const MAX_FOUND: usize = 50;
/// Longest search text, in characters.
const MAX_SEARCH_TEXT: usize = 200;

/// `[capabilities.history]`.
#[derive(Deserialize)]
#[serde(crate = "plugin_api::serde", default, deny_unknown_fields)]
struct Config {
    retention_days: u64,
    max_lines_per_room: u64,
    replay_on_join: usize,
    queue_size: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config { retention_days: 30, max_lines_per_room: 10_000, replay_on_join: 0, queue_size: 10_000 }
    }
}

/// What a user asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Query {
    /// The newest N lines.
    Last(usize),
    /// Lines with these words, newest first.
    Search(String),
    /// Lines since a Unix time in ms.
    Since(u64),
}

/// The capability.
pub struct History {
    host: Host,
    writer: Writer,
    read: Mutex<Connection>,
    cfg: Config,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

impl History {
    /// Opens the database and starts the writer thread.
    pub fn new(host: Host) -> Result<History, String> {
        let cfg: Config = host.config()?;
        let path = host.data_dir().join("history.db");
        let open = || db::open(&path).map_err(|e| format!("cannot open {}: {e}", path.display()));
        let settings = Settings {
            max_lines_per_room: cfg.max_lines_per_room.max(1),
            replay_on_join: cfg.replay_on_join.min(MAX_LINES),
        };
        let writer = Writer::start(open()?, host.clone(), cfg.queue_size, settings);
        Ok(History { read: Mutex::new(open()?), writer, host, cfg })
    }

    /// Lines of a local room for a query (bounded), after the queue is written.
    pub(crate) fn local(&self, room: &str, q: &Query) -> Result<Vec<Line>, String> {
        self.writer.flush();
        let c = self.read.lock().unwrap_or_else(|p| p.into_inner());
        match q {
            Query::Last(n) => db::last(&c, room, (*n).min(MAX_LINES)),
            Query::Search(t) => db::search(&c, room, t, MAX_FOUND),
            Query::Since(ms) => db::since(&c, room, *ms, MAX_LINES),
        }
        .map_err(|e| e.to_string())
    }

    fn query(command: &str, args: &str) -> Option<Query> {
        let args = args.trim();
        match command {
            "last" if args.is_empty() => Some(Query::Last(DEFAULT_LAST)),
            "last" => args.parse().ok().filter(|n| (1..=MAX_LINES).contains(n)).map(Query::Last),
            "search" if args.is_empty() || args.chars().count() > MAX_SEARCH_TEXT => None,
            "search" => Some(Query::Search(args.to_owned())),
            _ => time::parse_since(args, now_ms()).map(Query::Since),
        }
    }
}

impl Capability for History {
    const NAME: &'static str = "history";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn commands(&self) -> Vec<Command> {
        vec![
            Command::new("last", "[N]", "Show the last N lines of your subserver (default 20, at most 200)"),
            Command::new("search", "<text>", "Find lines of your subserver with all these words, newest first"),
            Command::new(
                "since",
                "<time>",
                "Show lines since 10m, 2h, 1d, HH:MM, YYYY-MM-DD [HH:MM] (UTC) or Unix seconds",
            ),
        ]
    }

    fn command(&self, command: &str, args: &str, caller: &Caller) -> Reply {
        let Some(q) = History::query(command, args) else { return Reply::Usage };
        let Some(room) = caller.room.as_deref() else { return "You are not in a subserver.".into() };
        let lines = match room.split_once('@') {
            Some((name, home)) => match remote::ask(&self.host, name, home, &q) {
                Some(lines) => lines,
                None => return format!("History is not available for {room}.").into(),
            },
            None => match self.local(room, &q) {
                Ok(lines) => lines,
                Err(e) => {
                    self.host.warn(&format!("reading history failed: {e}"));
                    return "History is not available right now.".into();
                }
            },
        };
        render::lines(&render::visible(&self.host, &caller.account, &lines), &self.host.host_name()).into()
    }

    fn wants_room_lines(&self) -> bool {
        true
    }

    fn room_line(&self, l: &RoomLine) {
        if l.kind == DeliveryKind::Pm {
            return;
        }
        let line =
            Line { t: l.time_ms, kind: render::kind_name(l.kind).into(), from: l.sender.clone(), text: l.text.clone() };
        self.writer.push(Job::Line(l.room.clone(), line));
    }

    fn wants_room_joins(&self) -> bool {
        self.cfg.replay_on_join > 0
    }

    fn room_joined(&self, room: &str, caller: &Caller) {
        self.writer.push(Job::Replay {
            room: room.into(),
            account: caller.account.clone(),
            session_id: caller.session_id,
        });
    }

    fn s2s_types(&self) -> Vec<String> {
        vec![remote::REQUEST.into()]
    }

    fn s2s(&self, _msg_type: &str, _from_host: &str, json: &str) -> Option<String> {
        Some(remote::answer(self, json))
    }

    fn tick_secs(&self) -> u64 {
        60
    }

    fn tick(&self) {
        let keep_ms = self.cfg.retention_days.saturating_mul(24 * 3_600_000);
        self.writer.push(Job::Prune(now_ms().saturating_sub(keep_ms)));
        let dropped = self.writer.dropped();
        if dropped > 0 {
            self.host.debug(&format!("{dropped} lines dropped so far (queue full)"));
        }
    }

    fn shutdown(&self) {
        self.writer.close();
        self.host.info(&format!("history closed ({} lines dropped while running)", self.writer.dropped()));
    }
}

plugin_api::export_capability!(History::new);

#[cfg(test)]
mod tests;
