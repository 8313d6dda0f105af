use super::*;
use plugin_api::testing::{start_in_process, FakeHost};

fn caller(account: &str, room: Option<&str>) -> Caller {
    Caller { account: account.into(), session_id: 7, peer_ip: "127.0.0.1".parse().unwrap(), room: room.map(Into::into) }
}

#[test]
fn records_room_lines_and_answers_queries() {
    let mut host = FakeHost::new(&["alice", "bob"]);
    host.dir = std::env::temp_dir().join(format!("dmc-history-unit-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&host.dir);
    std::fs::create_dir_all(&host.dir).unwrap();
    host.lock().blocked.insert(("bob".into(), "carol@other.test".into()));
    let p = start_in_process(History::new, host.clone()).unwrap();
    assert!(p.info().room_lines && !p.info().room_joins);
    let t = 1_796_220_180_000;
    p.room_line("g", DeliveryKind::Join, "alice", "", t).unwrap();
    p.room_line("g", DeliveryKind::Chat, "alice", "hello world", t).unwrap();
    p.room_line("g", DeliveryKind::Act, "carol@other.test", "waves", t + 60_000).unwrap();
    p.room_line("g", DeliveryKind::Pm, "alice", "secret", t).unwrap();
    let run = |cmd: &str, args: &str, who: &str| p.command(cmd, args, &caller(who, Some("g"))).unwrap().unwrap();
    assert_eq!(
        run("last", "", "alice"),
        "[2026-12-02 14:03] *** alice has joined the server.\n[2026-12-02 14:03] alice: hello world\n\
         [2026-12-02 14:04] *** carol@other.test waves\nEnd of history."
    );
    assert_eq!(run("last", "1", "alice"), "[2026-12-02 14:04] *** carol@other.test waves\nEnd of history.");
    assert_eq!(run("search", "WORLD", "alice"), "[2026-12-02 14:03] alice: hello world\nEnd of history.");
    assert_eq!(run("search", "nothing", "alice"), "No history.");
    assert_eq!(
        run("since", "2026-12-02 14:04", "alice"),
        "[2026-12-02 14:04] *** carol@other.test waves\nEnd of history."
    );
    assert_eq!(run("last", "201", "alice"), "Usage: /history-last [N]");
    assert_eq!(run("since", "whenever", "alice"), "Usage: /history-since <time>");
    assert!(!run("last", "", "bob").contains("carol"), "ignored senders are left out");
    assert_eq!(p.command("last", "", &caller("alice", None)).unwrap().unwrap(), "You are not in a subserver.");
    assert_eq!(run("last", "", "alice").matches("secret").count(), 0);
    let answer: plugin_api::serde_json::Value = plugin_api::serde_json::from_str(
        &p.s2s("history_request", "peer.test", r#"{"room":"g","query":"last","arg":1}"#).unwrap().unwrap(),
    )
    .unwrap();
    assert_eq!(answer["lines"][0]["from"], "carol@other.test");
    p.shutdown().unwrap();
    let _ = std::fs::remove_dir_all(&host.dir);
}
