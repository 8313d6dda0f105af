//! docs/protocol.md §4: everything after login — subservers, chat, actions, notices, PMs, help, admin.

use dmconnect_e2e::{Client, TestServer};

#[tokio::test]
async fn servers_join_members_chat_act() {
    let srv = TestServer::start().await;
    let addr = srv.addr();
    let mut a = Client::login_new(addr, "alice", "pw").await;
    a.send("hello").await;
    a.expect("Please log in and join a server first.").await;
    a.send("/members").await;
    a.expect("Please log in and join a server first.").await;
    a.send("/act waves").await;
    a.expect("Please log in and join a server first.").await;
    a.send("/create_server").await;
    a.expect("Usage: /create_server <server_name>").await;
    a.send("/create_server lounge").await;
    a.expect("Server 'lounge' created successfully.").await;
    a.send("/create_server lounge").await;
    a.expect("Server already exists.").await;
    a.send("/create_server a@b").await;
    a.expect("Error: Server names cannot contain '@'.").await;
    a.send("/list_servers").await;
    a.expect("Servers: general, lounge").await;
    a.send("/join_server").await;
    a.expect("Usage: /join_server <server_name>").await;
    a.send("/join_server nowhere").await;
    a.expect("Server does not exist.").await;
    a.join("lounge").await;
    a.send("/join_server general").await;
    a.expect("You're already connected to the server 'lounge'.").await;

    let mut b = Client::login_new(addr, "bob", "pw").await;
    b.send("/join_server lounge").await;
    b.expect("Joined server 'lounge' successfully.").await;
    b.expect("*** bob has joined the server.").await;
    a.expect("*** bob has joined the server.").await;

    a.send("/members").await;
    a.expect("Members in 'lounge': alice, bob").await;
    b.send("hi all").await;
    b.expect("bob: hi all").await;
    a.expect("bob: hi all").await;

    a.send("/act").await;
    a.expect("Usage: /act <act>").await;
    a.send("/act has joined the server.").await;
    a.expect("This action is not allowed.").await;
    a.send("/act has left the server.").await;
    a.expect("This action is not allowed.").await;
    a.send("/act is drinking coffee.").await;
    a.expect("*** alice is drinking coffee.").await;
    b.expect("*** alice is drinking coffee.").await;

    // A user in another room sees none of it.
    let mut c = Client::login_new(addr, "carol", "pw").await;
    c.join("general").await;
    a.send("only lounge").await;
    a.expect("alice: only lounge").await;
    b.expect("alice: only lounge").await;
    c.expect_nothing_queued().await;

    drop(b);
    a.expect("*** bob has left the server.").await;
    a.send("/members").await;
    a.expect("Members in 'lounge': alice").await;
}

#[tokio::test]
async fn control_characters_are_refused() {
    let srv = TestServer::start().await;
    let mut a = Client::login_new(srv.addr(), "alice", "pw").await;
    a.join("general").await;
    a.send("fake\u{2028}(Private) admin: hi").await;
    a.expect("Error: Messages cannot contain control characters or line separators.").await;
    a.send("bell\u{7}").await;
    a.expect("Error: Messages cannot contain control characters or line separators.").await;
    a.send("/pm alice x\u{85}y").await;
    a.expect("Error: Messages cannot contain control characters or line separators.").await;
    a.send("tab\tok").await;
    a.expect("alice: tab\tok").await;
}

#[tokio::test]
async fn several_sessions_per_account() {
    let srv = TestServer::start().await;
    let addr = srv.addr();
    let mut a1 = Client::login_new(addr, "alice", "pw").await;
    a1.send("/create_server lounge").await;
    a1.expect("Server 'lounge' created successfully.").await;
    a1.join("general").await;
    let mut a2 = Client::login(addr, "alice", "pw").await;
    a2.name = "alice".into();
    // Second session of the same account in the same room: silent.
    a2.send("/join_server general").await;
    a2.expect("Joined server 'general' successfully.").await;
    a1.expect_nothing_queued().await;
    let mut a3 = Client::login(addr, "alice", "pw").await;
    a3.send("/join_server lounge").await;
    a3.expect("Joined server 'lounge' successfully.").await;
    a3.expect("*** alice has joined the server.").await;

    let mut b = Client::login_new(addr, "bob", "pw").await;
    b.join("general").await;
    a1.expect("*** bob has joined the server.").await;
    a2.expect("*** bob has joined the server.").await;
    b.send("room line").await;
    b.expect("bob: room line").await;
    a1.expect("bob: room line").await;
    a2.expect("bob: room line").await;
    a3.expect_nothing_queued().await;

    a1.send("/members").await;
    a1.expect("Members in 'general': alice, bob").await;

    // A PM reaches every session of the recipient, joined or not.
    b.send("/pm alice psst").await;
    b.expect("Private message sent to alice.").await;
    for s in [&mut a1, &mut a2, &mut a3] {
        s.expect("(Private) bob: psst").await;
    }
    // Closing one of two sessions in a room is silent; the last one announces the leave.
    drop(a2);
    b.expect_nothing(150).await;
    drop(a1);
    b.expect("*** alice has left the server.").await;
}

#[tokio::test]
async fn private_messages_every_outcome() {
    let srv = TestServer::start().await;
    let addr = srv.addr();
    let mut a = Client::login_new(addr, "alice", "pw").await;
    let b = Client::login_new(addr, "bob", "pw").await;
    drop(b);
    a.send("/pm").await;
    a.expect("Usage: /pm <username> <message>").await;
    a.send("/pm bob").await;
    a.expect("Usage: /pm <username> <message>").await;
    a.send("/pm nobody hi").await;
    a.expect("User does not exist.").await;
    a.send("/pm alice hi").await;
    a.expect("You cannot send private messages to yourself.").await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    a.send("/pm bob are you there").await;
    a.expect("Failed to send private message to bob.").await;
    let mut b = Client::login(addr, "bob", "pw").await;
    a.send("/pm bob  two  spaces ").await;
    a.expect("Private message sent to bob.").await;
    b.expect("(Private) alice:  two  spaces ").await;
    // user@THISHOST is the local user.
    a.send("/pm bob@localhost hi").await;
    a.expect("Private message sent to bob@localhost.").await;
    b.expect("(Private) alice: hi").await;
}

#[tokio::test]
async fn help_capabilities_unknown() {
    let srv = TestServer::start().await;
    let mut a = Client::login_new(srv.addr(), "alice", "pw").await;
    a.send("/help").await;
    a.expect_lines(&[
        "/create_server <server_name> - Create a new server",
        "/join_server <server_name> - Join a server (server_name@host for one on another host)",
        "/list_servers [page] - List the servers on this host (long lists come in pages)",
        "/members - List the members of your current server",
        "/act <act> - Send an action to your current server",
        "/pm <username> <message> - Send a private message (username@host for a user on another host)",
        "/list_capabilities - List the capabilities of this server",
        "/help - Show this help",
    ])
    .await;
    a.send("/list_capabilities").await;
    a.expect("No capabilities available.").await;
    a.send("/status").await;
    a.expect("Unknown command.").await;
    a.send("/frobnicate now").await;
    a.expect("Unknown command.").await;
    a.send("/ban bob").await;
    a.expect("Unknown command.").await;
    a.send("/delete_server general").await;
    a.expect("Unknown command.").await;
    a.send("/").await;
    a.expect("*Ping*").await;
}

#[tokio::test]
async fn remote_subserver_without_federation_does_not_exist() {
    let srv = TestServer::builder().toml("[federation]\nenabled = false").start().await;
    let mut a = Client::login_new(srv.addr(), "alice", "pw").await;
    a.send("/join_server general@elsewhere.invalid").await;
    a.expect("Server does not exist.").await;
    a.send("/pm bob@elsewhere.invalid hi").await;
    a.expect("Failed to send private message to bob@elsewhere.invalid.").await;
    // NAME@THISHOST is the local subserver.
    a.send("/join_server general@localhost").await;
    a.expect("Joined server 'general' successfully.").await;
}

#[tokio::test]
async fn admin_ban_and_delete_server() {
    let srv = TestServer::builder().server_key("admins", r#"["root"]"#).start().await;
    let addr = srv.addr();
    let mut root = Client::login_new(addr, "root", "pw").await;
    let mut bob = Client::login_new(addr, "bob", "pw").await;
    let mut bob2 = Client::login(addr, "bob", "pw").await;
    root.send("/create_server attic").await;
    root.expect("Server 'attic' created successfully.").await;
    root.join("attic").await;
    bob.send("/join_server attic").await;
    bob.expect("Joined server 'attic' successfully.").await;
    bob.expect("*** bob has joined the server.").await;
    root.expect("*** bob has joined the server.").await;

    root.send("/ban").await;
    root.expect("Usage: /ban <username>").await;
    root.send("/ban ghost").await;
    root.expect("User does not exist.").await;
    root.send("/ban bob").await;
    root.expect("User 'bob' has been banned.").await;
    root.expect("*** bob has left the server.").await;
    assert!(bob.closed_within(2000).await, "banned session 1 still open");
    assert!(bob2.closed_within(2000).await, "banned session 2 still open");
    let mut again = dmconnect_e2e::Client::connect(addr).await;
    again.expect(dmconnect_e2e::GREETING).await;
    again.send("/login bob pw").await;
    again.expect_lines(&["This account is banned.", dmconnect_e2e::GREETING]).await;
    root.send("/unban bob").await;
    root.expect("User 'bob' has been unbanned.").await;
    again.send("/login bob pw").await;
    again.expect("Login successful.").await;

    root.send("/delete_server general").await;
    root.expect("The default server cannot be deleted.").await;
    root.send("/delete_server nowhere").await;
    root.expect("Server does not exist.").await;
    root.send("/delete_server attic").await;
    root.expect("Server 'attic' has been deleted.").await;
    root.expect("Server 'attic' deleted.").await;
    root.send("/list_servers").await;
    root.expect("Servers: general").await;
    root.send("/members").await;
    root.expect("Please log in and join a server first.").await;
    root.join("general").await;
}
