//! Chat flood control (`[limits] chat_lines_per_sec`, `chat_burst`): chat,
//! `/act` and `/pm` lines are delayed while a session is over its rate.

use super::ctx::Ctx;
use crate::limits::{Flood, FloodStep};
use crate::replies;

/// Chat, `/act` and `/pm` count towards `chat_lines_per_sec`.
pub fn is_chat(text: &str) -> bool {
    !text.starts_with('/') || text.starts_with("/act ") || text.starts_with("/pm ")
}

/// Delays a chat line while the session is over its rate; this session's input is
/// not read meanwhile (TCP pushes back on the sender), and nobody else waits.
/// False when the session is to be disconnected instead.
pub async fn throttle(ctx: &mut Ctx<'_>) -> bool {
    // Read at every line: a reload changes the rate of open sessions too.
    let (per_sec, burst) = ctx.shared.budgets.chat();
    match ctx.state.flood.as_mut() {
        Some(_) if per_sec == 0 => ctx.state.flood = None,
        Some(flood) => flood.follow(per_sec, burst),
        None => ctx.state.flood = Flood::new(per_sec, burst).map(Box::new),
    }
    let Some(flood) = ctx.state.flood.as_mut() else { return true };
    match flood.step(std::time::Instant::now()) {
        FloodStep::Go => true,
        FloodStep::Wait(wait, warn) => {
            if warn {
                ctx.reply(replies::TOO_FAST);
            }
            tokio::time::sleep(wait).await;
            true
        }
        FloodStep::Disconnect => {
            tracing::info!(session = ctx.session.id, peer = %ctx.session.peer, "disconnected for flooding");
            ctx.reply(replies::FLOOD_KICK);
            ctx.session.end("flood");
            ctx.state.quit = true;
            false
        }
    }
}
