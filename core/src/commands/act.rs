//! `/act ACTION`.

use super::args::{words, Usage};
use super::ctx::Ctx;
use super::say::say;
use crate::replies;

/// `/act ACTION`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Act<'a>(pub &'a str);

impl<'a> Act<'a> {
    /// Parses `/act ACTION` (an action of only spaces is a usage error).
    pub fn parse(text: &'a str) -> Result<Self, Usage> {
        match words::<2>(text) {
            [_, Some(action)] if !action.trim().is_empty() => Ok(Act(action)),
            _ => Err(Usage::of(replies::USAGE_ACT)),
        }
    }

    /// Sends the action to the current subserver.
    pub async fn apply(self, ctx: &mut Ctx<'_>) {
        say(ctx, self.0, true).await
    }
}
