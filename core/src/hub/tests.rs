//! The hub without sockets: a real SQLite store in a temp dir, session handles
//! whose outboxes the tests read. `commands::tests` builds on these helpers.

use super::{Added, Hub, HubSettings, SessionHandle};
use crate::outbox::{Closed, Outbox};
use crate::store::Store;
use futures_util::FutureExt;
use std::sync::Arc;

/// A hub on a fresh store; `root` is an administrator.
pub(crate) fn hub(tag: &str) -> Arc<Hub> {
    let dir = std::env::temp_dir().join(format!("dmc-unit-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = Store::open(&dir).expect("store");
    let settings = HubSettings {
        host: "here.test".into(),
        default_room: "general".into(),
        admins: vec!["root".into()],
        data_dir: dir,
        max_remote_members: 3,
    };
    Hub::new(settings, store).expect("hub")
}

/// A connected session handle (not logged in).
pub(crate) fn session(hub: &Hub) -> Arc<SessionHandle> {
    let s = SessionHandle::new(hub.next_session_id(), "127.0.0.1:4000".parse().unwrap(), Outbox::new(64, 1 << 20));
    hub.connect(&s);
    s
}

/// The lines queued for a session so far.
pub(crate) fn drain(s: &SessionHandle) -> Vec<String> {
    let mut batch = Vec::new();
    // Resolves at once while something is queued; pending means the outbox is empty.
    while let Some(Closed::No) = s.outbox.next_batch(&mut batch, 256).now_or_never() {}
    batch.iter().flat_map(|b| String::from_utf8_lossy(b).lines().map(str::to_owned).collect::<Vec<_>>()).collect()
}

fn logged_in(hub: &Hub, name: &str) -> Arc<SessionHandle> {
    let s = session(hub);
    hub.login(&s, name);
    s
}

#[test]
fn join_reply_comes_before_the_notice_and_leave_after_the_last_session() {
    let hub = hub("join");
    let room = hub.room("general").unwrap();
    let (a1, a2, b) = (logged_in(&hub, "alice"), logged_in(&hub, "alice"), logged_in(&hub, "bob"));
    hub.join(&room, &b, "in");
    hub.join(&room, &a1, "in");
    hub.join(&room, &a2, "in");
    assert_eq!(drain(&b), ["in", "*** bob has joined the server.", "*** alice has joined the server."]);
    assert_eq!(drain(&a1), ["in", "*** alice has joined the server."]);
    assert_eq!(drain(&a2), ["in"], "a second session of a member joins quietly");
    assert_eq!(room.member_names(), ["bob", "alice"]);
    assert!(!hub.leave(&room, &a1));
    assert!(drain(&b).is_empty());
    assert!(hub.leave(&room, &a2));
    assert_eq!(drain(&b), ["*** alice has left the server."]);
}

#[test]
fn members_of_other_hosts_are_capped_without_notices() {
    let hub = hub("remote-cap");
    let room = hub.room("general").unwrap();
    let b = logged_in(&hub, "bob");
    hub.join(&room, &b, "in");
    for u in ["u1", "u2", "u3"] {
        assert_eq!(hub.add_member(&room, u, "there.test"), Added::Yes);
    }
    drain(&b);
    // The test hub's cap is three: the fourth is refused, silently for local members.
    assert_eq!(hub.add_member(&room, "u4", "else.test"), Added::Full);
    assert!(!room.has_member("u4", Some("else.test")));
    assert!(drain(&b).is_empty());
    assert_eq!(room.members().len(), 4);
}

#[test]
fn chat_and_members_of_other_hosts() {
    let hub = hub("remote");
    let room = hub.room("general").unwrap();
    let b = logged_in(&hub, "bob");
    hub.join(&room, &b, "in");
    drain(&b);
    assert_eq!(hub.add_member(&room, "carol", "there.test"), Added::Yes);
    assert_eq!(hub.add_member(&room, "carol", "there.test"), Added::Already);
    hub.say(&room, "bob", None, "hi", false);
    hub.say(&room, "carol", Some("there.test"), "waves", true);
    assert_eq!(room.remote_hosts().len(), 1);
    assert!(hub.remove_member(&room, "carol", "there.test"));
    assert!(!hub.remove_member(&room, "carol", "there.test"));
    assert_eq!(
        drain(&b),
        [
            "*** carol@there.test has joined the server.",
            "bob: hi",
            "*** carol@there.test waves",
            "*** carol@there.test has left the server."
        ]
    );
}

#[tokio::test]
async fn deleting_a_room_tells_its_sessions() {
    let hub = hub("delete");
    assert!(hub.create_room("attic", "root").await.unwrap());
    assert!(!hub.create_room("attic", "root").await.unwrap());
    let room = hub.room("attic").unwrap();
    let b = logged_in(&hub, "bob");
    hub.join(&room, &b, "in");
    drain(&b);
    assert!(hub.delete_room("attic").await.unwrap());
    assert!(room.is_deleted());
    assert_eq!(drain(&b), ["Server 'attic' has been deleted."]);
    assert_eq!(hub.room_names(), ["general"]);
}

#[test]
fn directory_sends_to_accounts_and_sessions() {
    let hub = hub("directory");
    let (a1, a2) = (logged_in(&hub, "alice"), logged_in(&hub, "alice"));
    assert!(hub.is_online("alice") && !hub.is_online("bob"));
    assert!(hub.send_to_account("alice", "x"));
    assert!(!hub.send_to_account("bob", "x"));
    assert!(hub.send_to_session(a2.id, "y"));
    assert!(hub.deliver_pm("bob", "alice", "psst"));
    assert_eq!(drain(&a1), ["x", "(Private) bob: psst"]);
    assert_eq!(drain(&a2), ["x", "y", "(Private) bob: psst"]);
    assert_eq!(hub.session_ips("alice").len(), 1);
    hub.logout(&a1, None);
    hub.logout(&a2, None);
    assert!(!hub.is_online("alice"));
}
