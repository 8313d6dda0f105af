//! `/act ACTION`.

use super::{words, Command, Ctx};
use crate::replies;

/// Parses `/act ACTION` (an action of only spaces is a usage error).
pub fn parse(text: &str) -> Command<'_> {
    match words::<2>(text) {
        [_, Some(action)] if !action.trim().is_empty() => Command::Act(action),
        _ => Command::Usage { text: replies::USAGE_ACT, greet: false },
    }
}

/// Sends an action to the current subserver.
pub async fn apply(ctx: &mut Ctx<'_>, action: &str) {
    super::say::say(ctx, action, true).await
}
