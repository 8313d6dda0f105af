//! `/act ACTION`.

use super::args::{command, non_blank, Usage};
use super::ctx::Ctx;
use super::say::say;
use crate::replies;

command!(
    /// `/act ACTION` (an action of only spaces is a usage error).
    Act(non_blank, Usage::of(replies::USAGE_ACT))
);

impl Act<'_> {
    /// Sends the action to the current subserver.
    pub async fn apply(self, ctx: &mut Ctx<'_>) {
        say(ctx, self.0, true).await
    }
}
