//! Public chat: any message not starting with `/` (after login).

use super::ctx::Ctx;
use super::say::say;

/// A chat line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chat<'a>(pub &'a str);

impl Chat<'_> {
    /// Sends the line to the current subserver.
    pub async fn apply(self, ctx: &mut Ctx<'_>) {
        say(ctx, self.0, false).await
    }
}
