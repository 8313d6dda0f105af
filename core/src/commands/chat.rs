//! Public chat: any message not starting with `/` (after login).

use super::Ctx;

/// Sends a chat line to the current subserver.
pub async fn apply(ctx: &mut Ctx<'_>, text: &str) {
    super::say::say(ctx, text, false).await
}
