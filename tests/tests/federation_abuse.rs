//! A hostile peer's `room_join`s for made-up users are bounded by
//! `[limits] max_remote_members_per_room`: past it the join is refused with
//! reason `room_full`, local members hear nothing and the member list stays put.

mod federation_support;

use federation_support::{hosts, s2s, FakePeer};
use serde_json::json;

#[tokio::test]
async fn forged_remote_members_are_capped_per_room() {
    let hs = hosts(1, &[], "[limits]\nmax_remote_members_per_room = 5").await;
    let h = &hs[0];
    let peer = FakePeer::start("127.0.0.9", h.addr.port()).await;
    let mut alice = h.user("alice").await;
    alice.join("general").await;

    let join = |user: String| peer.request(json!({"type":"room_join","room":"general","sender":user}));
    for i in 0..5 {
        assert_eq!(s2s(h.addr, &join(format!("u{i}"))).await, json!({"status":"ok"}));
        alice.expect(&format!("*** u{i}@127.0.0.9 has joined the server.")).await;
    }
    for i in 5..12 {
        let ans = s2s(h.addr, &join(format!("u{i}"))).await;
        assert_eq!(ans, json!({"status":"error","reason":"room_full"}), "u{i}");
    }
    // A member joining again changes nothing and is not refused.
    assert_eq!(s2s(h.addr, &join("u0".into())).await, json!({"status":"ok"}));
    // No notice reached alice: her own line is the next thing she sees.
    alice.send("marker").await;
    alice.expect("alice: marker").await;

    // Room is made when one leaves.
    let leave = peer.request(json!({"type":"room_leave","room":"general","sender":"u0"}));
    assert_eq!(s2s(h.addr, &leave).await, json!({"status":"ok"}));
    alice.expect("*** u0@127.0.0.9 has left the server.").await;
    assert_eq!(s2s(h.addr, &join("u20".into())).await, json!({"status":"ok"}));
    alice.expect("*** u20@127.0.0.9 has joined the server.").await;
}
