//! `/join_server NAME` and `/join_server NAME@HOST`.

use super::args::{command, one, Usage};
use super::ctx::Ctx;
use crate::hub::Room;
use crate::remote::JoinOutcome;
use crate::replies;
use std::sync::Arc;

command!(
    /// `/join_server NAME` or `NAME@HOST`.
    JoinServer(one, Usage::of(replies::USAGE_JOIN))
);

impl JoinServer<'_> {
    /// Puts the session into a local or remote subserver.
    pub async fn apply(self, ctx: &mut Ctx<'_>) {
        let target = self.0;
        let hub = ctx.hub().clone();
        let (name, host) = match target.rsplit_once('@') {
            Some((n, h)) if h != hub.host() => (n, Some(h)),
            Some((n, _)) => (n, None),
            None => (target, None),
        };
        if let Some(current) = ctx.state.current_room() {
            return ctx.reply(&replies::already_in(&current.label()));
        }
        let room = match host {
            None => match hub.room(name) {
                Some(room) => {
                    // Decided before joining, so member hosts hear the join before any line said after it.
                    let first = hub.room_presence(&room, &ctx.account()).await;
                    hub.join_as(&room, ctx.session, &replies::joined(&room.label()), first);
                    room
                }
                None => return ctx.reply(replies::NO_SUCH_SERVER),
            },
            Some(host) => match join_remote(ctx, name, host).await {
                Some(room) => room,
                None => return ctx.reply(replies::NO_SUCH_SERVER),
            },
        };
        ctx.state.room = Some(room);
    }
}

/// Joins `name@host`: locally if another session of this account is already
/// in it, else through its home host. The view of the room is created only
/// once the home host accepted.
async fn join_remote(ctx: &Ctx<'_>, name: &str, host: &str) -> Option<Arc<Room>> {
    let hub = ctx.hub();
    if name.is_empty() || host.is_empty() {
        return None;
    }
    let account = ctx.account();
    if let Some(room) = hub.find_remote_room(name, host).filter(|r| r.has_member(&account, None)) {
        hub.join(&room, ctx.session, &replies::joined(&room.label()));
        return Some(room);
    }
    let on_joined = Box::new(|| {
        let room = hub.remote_room(name, host);
        hub.join(&room, ctx.session, &replies::joined(&room.label()));
    });
    match hub.federation().join_remote(name, host, &account, on_joined).await {
        JoinOutcome::Joined => hub.find_remote_room(name, host),
        JoinOutcome::NoSuchRoom => None,
    }
}
