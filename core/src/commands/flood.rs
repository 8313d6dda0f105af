//! Chat flood control (`[limits] chat_lines_per_sec`, `chat_burst`): chat,
//! `/act` and `/pm` lines are delayed while a session is over its rate.

use super::ctx::Ctx;
use crate::limits::{Flood, FloodStep};
use crate::replies;
use std::time::Duration;

/// Chat, `/act` and `/pm` count towards `chat_lines_per_sec`.
pub fn is_chat(text: &str) -> bool {
    !text.starts_with('/') || text.starts_with("/act ") || text.starts_with("/pm ")
}

/// What the session does with a message before running it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Run it now.
    Go,
    /// Wait this long first, reading nothing from the client meanwhile.
    Wait(Duration),
    /// Do not run it: the session ends (flooding for too long).
    Quit,
}

/// Decides whether a message must wait for the session's chat budget. The wait
/// itself is the session loop's: it reads nothing from this client meanwhile,
/// so the kernel's buffers push back on the sender and nobody else waits.
pub fn gate(ctx: &mut Ctx<'_>, text: &str) -> Gate {
    if ctx.state.account.is_none() || !super::keepalives(text).1.is_some_and(is_chat) {
        return Gate::Go;
    }
    // Read at every line: a reload changes the rate of open sessions too.
    let (per_sec, burst) = ctx.shared.budgets.chat();
    match ctx.state.flood.as_mut() {
        Some(_) if per_sec == 0 => ctx.state.flood = None,
        Some(flood) => flood.follow(per_sec, burst),
        None => ctx.state.flood = Flood::new(per_sec, burst).map(Box::new),
    }
    let Some(flood) = ctx.state.flood.as_mut() else { return Gate::Go };
    match flood.step(std::time::Instant::now()) {
        FloodStep::Go => Gate::Go,
        FloodStep::Wait(wait, warn) => {
            if warn {
                ctx.reply(replies::TOO_FAST);
            }
            Gate::Wait(wait)
        }
        FloodStep::Disconnect => {
            tracing::info!(session = ctx.session.id, peer = %ctx.session.peer, "disconnected for flooding");
            ctx.reply(replies::FLOOD_KICK);
            ctx.session.end("flood");
            ctx.state.quit = true;
            Gate::Quit
        }
    }
}
