//! The command-line administration tools against a running server: changes are
//! stored and take effect at once through the control socket.

use dmconnect_e2e::{run_cli, Client, TestServer, GREETING};

const BANNED_TEXT: &str = "You have been banned from this server.";

#[tokio::test]
async fn ban_closes_open_sessions_and_unban_lets_them_back() {
    let srv = TestServer::start().await;
    let mut alice = Client::login_new(srv.addr(), "alice", "pw").await;
    let out = srv.cli(&["ban", "alice"], "");
    assert!(out.contains("banned; its sessions were closed"), "{out}");
    alice.expect(BANNED_TEXT).await;
    assert!(alice.closed_within(2000).await);
    let mut again = Client::connect(srv.addr()).await;
    again.expect(GREETING).await;
    again.send("/login alice pw").await;
    again.expect("This account is banned.").await;
    assert_eq!(srv.cli(&["user", "list"], ""), "alice (banned)\n");
    srv.cli(&["unban", "alice"], "");
    Client::login(srv.addr(), "alice", "pw").await;
}

#[tokio::test]
async fn user_add_passwd_and_del_against_a_running_server() {
    let srv = TestServer::start().await;
    let out = srv.cli(&["user", "add", "bob", "--password-stdin"], "first\n");
    assert!(out.contains("added"), "{out}");
    let mut bob = Client::login(srv.addr(), "bob", "first").await;
    srv.cli(&["user", "passwd", "bob", "--password-stdin"], "second\n");
    // The open session keeps going; the next login needs the new password.
    bob.send("/list_servers").await;
    bob.expect("Servers: general").await;
    let mut old = Client::connect(srv.addr()).await;
    old.expect(GREETING).await;
    old.send("/login bob first").await;
    old.expect("Invalid username or password.").await;
    Client::login(srv.addr(), "bob", "second").await;

    let dup = srv.cli_result(&["user", "add", "bob", "--password-stdin"], "x\n");
    assert!(!dup.ok && dup.stderr == "error: account \"bob\" already exists\n", "{}", dup.stderr);
    let out = srv.cli(&["user", "del", "bob"], "");
    assert!(out.contains("deleted; its sessions were closed"), "{out}");
    bob.expect(BANNED_TEXT).await;
    assert!(bob.closed_within(2000).await);
    assert_eq!(srv.cli(&["user", "list"], ""), "");
    let gone = srv.cli_result(&["user", "passwd", "bob", "--password-stdin"], "x\n");
    assert!(!gone.ok && gone.stderr.contains("no account"), "{}", gone.stderr);
}

#[tokio::test]
async fn room_del_tells_the_members() {
    let srv = TestServer::start().await;
    let mut alice = Client::login_new(srv.addr(), "alice", "pw").await;
    alice.send("/create_server lobby").await;
    alice.recv().await;
    alice.join("lobby").await;
    assert_eq!(srv.cli(&["room", "list"], ""), "general\nlobby\n");
    let out = srv.cli(&["room", "del", "lobby"], "");
    assert!(out.contains("its members were told"), "{out}");
    alice.expect("Server 'lobby' has been deleted.").await;
    assert_eq!(srv.cli(&["room", "list"], ""), "general\n");
    let refused = srv.cli_result(&["room", "del", "general"], "");
    assert!(!refused.ok && refused.stderr.contains("default subserver"), "{}", refused.stderr);
}

#[tokio::test]
async fn admin_add_makes_ban_work_for_the_next_command() {
    let srv = TestServer::builder().server_key("admins", "[\"root\"]").start().await;
    let mut carol = Client::login_new(srv.addr(), "carol", "pw").await;
    let mut bob = Client::login_new(srv.addr(), "bob", "pw").await;
    bob.send("/ban carol").await;
    bob.expect("Unknown command.").await;
    let out = srv.cli(&["admin", "add", "bob"], "");
    assert!(out.contains("in effect now"), "{out}");
    assert_eq!(srv.cli(&["admin", "list"], ""), "root (config)\nbob (database)\n");
    bob.send("/ban carol").await;
    bob.expect("User 'carol' has been banned.").await;
    carol.expect(BANNED_TEXT).await;
    srv.cli(&["admin", "del", "bob"], "");
    bob.send("/unban carol").await;
    bob.expect("Unknown command.").await;
    let missing = srv.cli_result(&["admin", "add", "nobody"], "");
    assert!(!missing.ok && missing.stderr.contains("no account"), "{}", missing.stderr);
}

#[tokio::test]
async fn without_a_server_changes_are_stored_and_reload_says_none_runs() {
    let mut srv = TestServer::start().await;
    srv.stop().await;
    let out = srv.cli(&["user", "add", "dave", "--password-stdin"], "pw\n");
    assert!(out.contains("added"), "{out}");
    let out = srv.cli(&["ban", "dave"], "");
    assert!(out.contains("no server running; stored"), "{out}");
    let r = srv.cli_result(&["reload"], "");
    assert!(!r.ok && r.stderr.contains("no server is running"), "{}", r.stderr);
    let copy = srv.data_dir().with_file_name("backup.db");
    srv.cli(&["backup", copy.to_str().unwrap()], "");
    assert!(copy.metadata().unwrap().len() > 0);
}

#[tokio::test]
async fn tools_refuse_to_create_a_database() {
    let dir = dmconnect_e2e::temp_dir("nodb");
    let data = dir.join("data");
    let d = data.to_str().unwrap();
    for args in [
        vec!["user", "list", "--data-dir", d],
        vec!["ban", "x", "--data-dir", d],
        vec!["room", "list", "--data-dir", d],
        vec!["admin", "list", "--data-dir", d],
    ] {
        let out = run_cli(&args, &[], "");
        assert!(!out.ok, "{args:?}");
        let want = format!(
            "error: no database at {}/dmconnect.db (data_dir from --data-dir); start the server once or pass --data-dir\n",
            d
        );
        assert_eq!(out.stderr, want, "{args:?}");
    }
    assert!(!data.exists(), "a tool created the data directory");
    let made = run_cli(&["user", "add", "eve", "--create", "--password-stdin", "--data-dir", d], &[], "pw\n");
    assert!(made.ok, "{}", made.stderr);
    assert_eq!(run_cli(&["user", "list", "--data-dir", d], &[], "").stdout, "eve\n");
}

#[tokio::test]
async fn a_second_server_on_the_same_data_directory_is_refused() {
    let srv = TestServer::start().await;
    let out = srv.cli_result(&["serve"], "");
    assert!(!out.ok);
    assert!(out.stderr.contains("error: another server is running on this data directory"), "{}", out.stderr);
    // The first one still answers its tools.
    assert_eq!(srv.cli(&["room", "list"], ""), "general\n");
}
