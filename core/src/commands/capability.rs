//! `/list_capabilities`, `/CAP` (help) and `/CAP-COMMAND ARGS`; anything else is `Unknown command.`

use super::ctx::Ctx;
use crate::cap_calls::CapCalls;
use crate::caps::Caller;
use crate::replies;

/// `/CAP` (help, `args == None`) or `/CAP-COMMAND ARGS`; resolved against the
/// loaded capabilities when applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capability<'a> {
    /// The first word without its `/`.
    pub word: &'a str,
    /// Everything after the first space.
    pub args: Option<&'a str>,
}

impl<'a> Capability<'a> {
    /// Parses `/WORD [ARGS]`.
    pub fn parse(text: &'a str) -> Self {
        let (word, args) = match text.split_once(' ') {
            Some((w, a)) => (w, Some(a)),
            None => (text, None),
        };
        Capability { word: word.strip_prefix('/').unwrap_or(word), args }
    }

    /// Runs it, or answers `Unknown command.`
    pub async fn apply(self, ctx: &mut Ctx<'_>) {
        apply(ctx, self.word, self.args).await
    }
}

/// `/list_capabilities`.
pub fn list(ctx: &mut Ctx<'_>) {
    let names = ctx.hub().caps().names();
    if names.is_empty() {
        ctx.reply(replies::NO_CAPABILITIES);
    } else {
        ctx.reply(&replies::capabilities(&names));
    }
}

/// Routes `/NAME` and `/NAME-COMMAND args` to a loaded capability.
async fn apply(ctx: &mut Ctx<'_>, word: &str, args: Option<&str>) {
    let hub = ctx.hub().clone();
    let caps = hub.caps();
    if args.is_none() {
        if let Some(help) = caps.help(word) {
            return ctx.reply(&help);
        }
    }
    let names = caps.names();
    // Longest capability name first, since names may themselves contain '-'.
    let cap = names
        .iter()
        .filter(|n| word.len() > n.len() + 1 && word.starts_with(n.as_str()) && word.as_bytes()[n.len()] == b'-')
        .max_by_key(|n| n.len());
    let Some(cap) = cap else { return ctx.reply(replies::UNKNOWN) };
    let command = &word[cap.len() + 1..];
    let caller = Caller {
        account: ctx.account().to_string(),
        session_id: ctx.session.id,
        peer_ip: ctx.session.peer.ip(),
        room: ctx.state.current_room().map(|r| r.label()),
    };
    // Off the command loop: the session's next lines run while the plugin works.
    let session = ctx.session.clone();
    let calls = ctx.state.cap_calls.get_or_insert_with(|| CapCalls::start(hub.clone(), session));
    if !calls.push(cap, command, args.unwrap_or(""), caller) {
        ctx.reply(replies::CAPABILITY_BUSY);
    }
}
