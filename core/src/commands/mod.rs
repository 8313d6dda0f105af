//! The commands, as mini-redis does them: a message is parsed into one
//! [`Command`] value ([`Command::parse`]), then applied ([`Command::apply`]).
//! One file per command holds its `parse` and its `apply`; [`words`] is the one
//! place arguments are split.

use crate::context::{Shared, State};
use crate::hub::{Hub, SessionHandle};
use crate::replies;
use std::sync::Arc;

mod act;
mod ban;
mod capability;
mod chat;
mod create_server;
mod delete_server;
mod help;
mod join_server;
mod list_servers;
mod login;
mod members;
mod pm;
mod register;
mod say;
mod unban;

#[cfg(test)]
mod tests;

/// What a command works with.
pub struct Ctx<'a> {
    /// Server-wide things.
    pub shared: &'a Shared,
    /// This connection.
    pub session: &'a Arc<SessionHandle>,
    /// This connection's state.
    pub state: &'a mut State,
}

impl Ctx<'_> {
    /// Queues a reply to this session.
    pub fn reply(&self, text: &str) {
        self.session.send(text);
    }

    /// The hub.
    pub fn hub(&self) -> &Arc<Hub> {
        &self.shared.hub
    }

    /// The logged-in account (commands after login only).
    pub fn account(&self) -> Arc<str> {
        self.state.account.clone().unwrap_or_else(|| "".into())
    }
}

/// Who sends a message: it decides which commands exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Not logged in: only /register and /login.
    Guest,
    /// Logged in.
    User,
    /// Logged in as an administrator: /ban, /unban and /delete_server too.
    Admin,
}

impl State {
    /// The role of this connection now.
    pub fn role(&self) -> Role {
        match (&self.account, self.admin) {
            (None, _) => Role::Guest,
            (Some(_), false) => Role::User,
            (Some(_), true) => Role::Admin,
        }
    }
}

/// One client message, parsed. Borrows from the message: parsing allocates nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command<'a> {
    /// Before login, anything but /register and /login: the greeting again.
    Greet,
    /// A usage error (`Usage: ...`); `greet` adds the greeting (before login).
    Usage {
        /// The usage text.
        text: &'static str,
        /// Followed by the greeting.
        greet: bool,
    },
    /// `/register NAME PASSWORD`.
    Register {
        /// Account name (checked when applied).
        name: &'a str,
        /// Password (may hold spaces).
        password: &'a str,
    },
    /// `/login NAME PASSWORD`.
    Login {
        /// Account name.
        name: &'a str,
        /// Password, or its base64 (may hold spaces).
        password: &'a str,
    },
    /// A chat line (no leading `/`).
    Chat(&'a str),
    /// `/act ACTION`.
    Act(&'a str),
    /// `/create_server NAME`.
    CreateServer(&'a str),
    /// `/join_server NAME` or `NAME@HOST`.
    JoinServer(&'a str),
    /// `/list_servers`.
    ListServers,
    /// `/members`.
    Members,
    /// `/pm USER MESSAGE` or `USER@HOST MESSAGE`.
    Pm {
        /// `user` or `user@host`.
        to: &'a str,
        /// The message (may hold spaces).
        text: &'a str,
    },
    /// `/help`.
    Help,
    /// `/list_capabilities`.
    ListCapabilities,
    /// `/ban USER` (admins).
    Ban(&'a str),
    /// `/unban USER` (admins).
    Unban(&'a str),
    /// `/delete_server NAME` (admins).
    DeleteServer(&'a str),
    /// `/CAP` (help, `args == None`) or `/CAP-COMMAND ARGS`; resolved against the loaded capabilities.
    Capability {
        /// The first word without its `/`.
        word: &'a str,
        /// Everything after the first space.
        args: Option<&'a str>,
    },
}

/// Splits a message on single spaces into at most `N` words, the last one
/// keeping the rest (spaces in passwords and messages); missing words are `None`.
pub fn words<const N: usize>(text: &str) -> [Option<&str>; N] {
    let mut out = [None; N];
    for (slot, part) in out.iter_mut().zip(text.splitn(N, ' ')) {
        *slot = Some(part);
    }
    out
}

/// The two arguments of `/CMD A REST` when both are there and not empty.
fn two(text: &str) -> Option<(&str, &str)> {
    match words::<3>(text) {
        [_, a, b] => given(a).zip(given(b)),
    }
}

/// A word that is present and not empty.
fn given(word: Option<&str>) -> Option<&str> {
    word.filter(|w| !w.is_empty())
}

impl<'a> Command<'a> {
    /// Parses one message (keep-alive slashes already taken off, see [`keepalives`]).
    pub fn parse(text: &'a str, role: Role) -> Command<'a> {
        let word = text.split(' ').next().unwrap_or("");
        if role == Role::Guest {
            return match word {
                "/register" => register::parse(text),
                "/login" => login::parse(text),
                _ => Command::Greet,
            };
        }
        if !text.starts_with('/') {
            return Command::Chat(text);
        }
        match word {
            "/create_server" => create_server::parse(text),
            "/join_server" => join_server::parse(text),
            "/list_servers" => Command::ListServers,
            "/members" => Command::Members,
            "/act" => act::parse(text),
            "/pm" => pm::parse(text),
            "/help" => Command::Help,
            "/list_capabilities" => Command::ListCapabilities,
            "/ban" if role == Role::Admin => ban::parse(text),
            "/unban" if role == Role::Admin => unban::parse(text),
            "/delete_server" if role == Role::Admin => delete_server::parse(text),
            _ => capability::parse(text),
        }
    }

    /// Runs the command in the session's current state.
    pub async fn apply(self, ctx: &mut Ctx<'_>) {
        match self {
            Command::Greet => ctx.reply(ctx.shared.greeting()),
            Command::Usage { text, greet } => {
                ctx.reply(text);
                if greet {
                    ctx.reply(ctx.shared.greeting());
                }
            }
            Command::Register { name, password } => register::apply(ctx, name, password).await,
            Command::Login { name, password } => login::apply(ctx, name, password).await,
            Command::Chat(text) => chat::apply(ctx, text).await,
            Command::Act(action) => act::apply(ctx, action).await,
            Command::CreateServer(name) => create_server::apply(ctx, name).await,
            Command::JoinServer(target) => join_server::apply(ctx, target).await,
            Command::ListServers => list_servers::apply(ctx),
            Command::Members => members::apply(ctx).await,
            Command::Pm { to, text } => pm::apply(ctx, to, text).await,
            Command::Help => help::apply(ctx),
            Command::ListCapabilities => capability::list(ctx),
            Command::Ban(user) => ban::apply(ctx, user).await,
            Command::Unban(user) => unban::apply(ctx, user).await,
            Command::DeleteServer(name) => delete_server::apply(ctx, name).await,
            Command::Capability { word, args } => capability::apply(ctx, word, args).await,
        }
    }
}

/// Handles one message: keep-alives first (`//login a b` is one keep-alive and
/// a command), then the command or chat.
pub async fn run(ctx: &mut Ctx<'_>, text: &str) {
    let (pings, rest) = keepalives(text);
    for _ in 0..pings {
        ctx.reply(ctx.shared.ping());
    }
    if let Some(text) = rest {
        Command::parse(text, ctx.state.role()).apply(ctx).await;
    }
}

/// Keep-alives (protocol.md §2): a message of only slashes is one; otherwise each
/// slash beyond the first is one (`//login a b` is a keep-alive and a /login).
/// Returns how many to answer and the message left to parse, if any.
pub fn keepalives(text: &str) -> (usize, Option<&str>) {
    let slashes = text.bytes().take_while(|&b| b == b'/').count();
    if slashes == text.len() {
        return (1, None);
    }
    let rest = if slashes > 1 { &text[slashes - 1..] } else { text };
    (slashes.saturating_sub(1), Some(rest))
}

/// Answers a storage failure without leaking details to the client.
pub fn storage_failed(ctx: &Ctx<'_>, err: &dyn std::fmt::Display) {
    tracing::error!(session = ctx.session.id, "{err}");
    ctx.reply(replies::STORAGE_ERROR);
}
