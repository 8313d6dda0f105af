//! Remote rooms through the hub's public API: the home-host side (users of
//! other hosts as members of our subservers, protocol.md §9 `room_*`) and the
//! visiting side (events of a remote subserver shown to our sessions).

use super::messages::reason;
use crate::caps::DeliveryKind;
use crate::hub::{Added, Hub};
use crate::remote::{qualified, RoomEvent};
use crate::replies;
use std::sync::Arc;

/// Adds a user of another host to a local subserver (`room_join`); the error
/// answer's reason when the subserver does not exist or is full.
pub fn remote_join(hub: &Hub, room_name: &str, user: &str, origin: &str) -> Result<(), &'static str> {
    let Some(room) = hub.room(room_name) else { return Err(reason::NO_SUCH_ROOM) };
    match hub.add_member(&room, user, origin) {
        Added::Yes => hub.fan_out(&room, room.remote_hosts(), || RoomEvent::joined(user, origin)),
        Added::Already => {}
        Added::Full => {
            tracing::info!(peer = origin, room = room_name, "room_join refused: max_remote_members_per_room");
            return Err(reason::ROOM_FULL);
        }
    }
    Ok(())
}

/// Removes a user of another host from a local subserver; false if not a member.
pub fn remote_leave(hub: &Hub, room_name: &str, user: &str, origin: &str) -> bool {
    let Some(room) = hub.room(room_name) else { return false };
    // The leaving host still gets the event, so take the hosts before removing it.
    let hosts = room.remote_hosts();
    if !hub.remove_member(&room, user, origin) {
        return false;
    }
    hub.fan_out(&room, hosts, || RoomEvent::left(user, origin));
    true
}

/// Chat from a user of another host in a local subserver; false if not a member.
pub fn remote_say(hub: &Hub, room_name: &str, user: &str, origin: &str, text: &str, is_act: bool) -> bool {
    let Some(room) = hub.room(room_name) else { return false };
    if !room.has_member(user, Some(origin)) {
        return false;
    }
    hub.say(&room, user, Some(origin), text, is_act);
    true
}

/// Removes every member of `origin` from local subservers (its host died); or only those in `users`.
pub fn drop_remote_members(hub: &Hub, origin: &str, users: Option<&[String]>) {
    for room in hub.local_rooms() {
        let gone: Vec<Arc<str>> = room
            .members()
            .into_iter()
            .filter(|m| m.origin.as_deref() == Some(origin) && users.is_none_or(|u| u.iter().any(|x| **x == *m.name)))
            .map(|m| m.name)
            .collect();
        for user in gone {
            remote_leave(hub, &room.name, user.as_ref(), origin);
        }
    }
}

/// Users of `origin` that are members of local subservers.
pub fn remote_members_of(hub: &Hub, origin: &str) -> Vec<String> {
    let mut users: Vec<String> = Vec::new();
    for room in hub.local_rooms() {
        for m in room.members() {
            if m.origin.as_deref() == Some(origin) && !users.iter().any(|u| **u == *m.name) {
                users.push(m.name.to_string());
            }
        }
    }
    users
}

/// Hosts with members in any local subserver.
pub fn member_hosts(hub: &Hub) -> Vec<Arc<str>> {
    let mut hosts: Vec<Arc<str>> = Vec::new();
    for room in hub.local_rooms() {
        for h in room.remote_hosts() {
            if !hosts.contains(&h) {
                hosts.push(h);
            }
        }
    }
    hosts
}

/// A `room_event` from a remote subserver's home host, shown to this host's sessions in it.
/// `sender_origin` equal to this host shows the plain name. False without a view of it.
pub fn remote_room_event(hub: &Hub, room_name: &str, home: &str, event: &RoomEvent) -> bool {
    let Some(room) = hub.find_remote_room(room_name, home) else { return false };
    let origin = Some(event.sender_origin.as_str()).filter(|o| *o != hub.host());
    let who = qualified(&event.sender, origin);
    let (kind, msg) = match event.event.as_str() {
        "joined" => (DeliveryKind::Join, replies::join_notice(&who)),
        "left" => (DeliveryKind::Leave, replies::leave_notice(&who)),
        "act" => (DeliveryKind::Act, replies::act(&who, &event.text)),
        _ => (DeliveryKind::Chat, replies::chat(&who, &event.text)),
    };
    hub.show(&room, kind, &who, &msg);
    true
}
