//! The commands: one file each, with its parse and its execution.

use crate::hub::{Hub, Session};
use crate::replies;
use crate::session::{Shared, State};
use std::sync::Arc;

mod act;
mod admin;
mod capability;
mod chat;
mod create_server;
mod help;
mod join_server;
mod list_servers;
mod login;
mod members;
mod pm;
mod register;

/// What a command works with.
pub struct Ctx<'a> {
    /// Server-wide things.
    pub shared: &'a Shared,
    /// This connection.
    pub session: &'a Arc<Session>,
    /// This connection's state.
    pub state: &'a mut State,
}

impl Ctx<'_> {
    /// Queues a reply to this session (with the outbox's reply headroom).
    pub fn reply(&self, text: &str) {
        self.session.reply(text);
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

/// Splits on single spaces into at most `n` parts, like the reference.
pub fn split(text: &str, n: usize) -> Vec<&str> {
    text.splitn(n, ' ').collect()
}

/// Runs one message (not a keep-alive) in the session's current state.
pub async fn dispatch(ctx: &mut Ctx<'_>, text: &str) {
    let word = text.split(' ').next().unwrap_or("");
    if ctx.state.account.is_none() {
        match word {
            "/register" => register::run(ctx, text).await,
            "/login" => login::run(ctx, text).await,
            _ => ctx.reply(ctx.shared.greeting()),
        }
        return;
    }
    if !text.starts_with('/') {
        return chat::run(ctx, text).await;
    }
    match word {
        "/create_server" => create_server::run(ctx, text).await,
        "/join_server" => join_server::run(ctx, text).await,
        "/list_servers" => list_servers::run(ctx, text),
        "/members" => members::run(ctx).await,
        "/act" => act::run(ctx, text).await,
        "/pm" => pm::run(ctx, text).await,
        "/help" => help::run(ctx),
        "/list_capabilities" => capability::list(ctx),
        "/ban" | "/unban" | "/delete_server" if ctx.hub().is_admin(&ctx.account()) => admin::run(ctx, word, text).await,
        _ => capability::run(ctx, word, text).await,
    }
}

/// Answers a storage failure without leaking details to the client.
pub fn storage_failed(ctx: &Ctx<'_>, err: &dyn std::fmt::Display) {
    tracing::error!(session = ctx.session.id, "{err}");
    ctx.reply(replies::STORAGE_ERROR);
}

#[cfg(test)]
mod prop;
