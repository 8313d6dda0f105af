//! `/join_server NAME` and `/join_server NAME@HOST`.

use super::{split, Ctx};
use crate::federation::JoinOutcome;
use crate::replies;

/// Puts the session into a local or remote subserver.
pub async fn run(ctx: &mut Ctx<'_>, text: &str) {
    let parts = split(text, 2);
    let Some(target) = parts.get(1).filter(|n| !n.is_empty()).map(|s| s.to_string()) else {
        return ctx.reply(replies::USAGE_JOIN);
    };
    let (name, host) = match target.rsplit_once('@') {
        Some((n, h)) if h != ctx.hub().host() => (n.to_owned(), Some(h.to_owned())),
        Some((n, _)) => (n.to_owned(), None),
        None => (target.clone(), None),
    };
    if let Some(current) = ctx.state.current_room() {
        return ctx.reply(&replies::already_in(&current.label()));
    }
    let hub = ctx.hub().clone();
    let room = match &host {
        None => match hub.room(&name) {
            Some(r) => r,
            None => return ctx.reply(replies::NO_SUCH_SERVER),
        },
        Some(host) => {
            if name.is_empty() || host.is_empty() {
                return ctx.reply(replies::NO_SUCH_SERVER);
            }
            let room = hub.remote_room(&name, host);
            let account = ctx.account();
            if !hub.in_room(&room, &account)
                && hub.federation().join_remote(&name, host, &account).await != JoinOutcome::Joined
            {
                return ctx.reply(replies::NO_SUCH_SERVER);
            }
            room
        }
    };
    hub.join(&room, ctx.session, &replies::joined(&room.label()));
    ctx.state.room = Some(room);
}
