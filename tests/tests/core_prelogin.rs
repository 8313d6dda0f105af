//! docs/protocol.md §2 and §3: framing and everything before login, in both framings.

use dmconnect_e2e::{Client, TestServer, GREETING};

#[tokio::test]
async fn greeting_ping_and_unknown_input_before_login() {
    let srv = TestServer::start().await;
    let mut c = Client::connect(srv.addr()).await;
    c.expect(GREETING).await;
    c.send_bare("/").await;
    c.expect("*Ping*").await;
    c.expect_nothing_queued().await; // no greeting after a ping
    c.send_bare("hello").await;
    c.expect(GREETING).await;
    c.send_bare("/list_servers").await;
    c.expect(GREETING).await;
    c.send_bare("/foo").await;
    c.expect(GREETING).await;
    c.send("///").await;
    c.expect("*Ping*").await;
}

#[tokio::test]
async fn register_and_login_texts_bare_packets() {
    let srv = TestServer::start().await;
    let mut c = Client::connect(srv.addr()).await;
    c.expect(GREETING).await;
    c.send_bare("/register").await;
    c.expect_lines(&["Usage: /register <username> <password>", GREETING]).await;
    c.send_bare("/register alice").await;
    c.expect_lines(&["Usage: /register <username> <password>", GREETING]).await;
    c.send_bare("/register alice secret pass").await;
    c.expect_lines(&["Registration successful. Please log in.", GREETING]).await;
    c.send_bare("/register alice other").await;
    c.expect_lines(&["Username already taken. Try another.", GREETING]).await;
    c.send_bare("/login").await;
    c.expect_lines(&["Usage: /login <username> <password>", GREETING]).await;
    c.send_bare("/login alice").await;
    c.expect_lines(&["Usage: /login <username> <password>", GREETING]).await;
    c.send_bare("/login alice wrong").await;
    c.expect_lines(&["Invalid username or password.", GREETING]).await;
    c.send_bare("/login nobody secret").await;
    c.expect_lines(&["Invalid username or password.", GREETING]).await;
    // The password is the rest of the line, spaces included.
    c.send_bare("/login alice secret pass").await;
    c.expect_lines(&[
        "Login successful.",
        "Available servers: general",
        "Select a server using /join_server <server_name>.",
    ])
    .await;
    c.send_bare("/login alice secret pass").await;
    c.expect("Unknown command.").await;
    c.send_bare("/register bob pw").await;
    c.expect("Unknown command.").await;
}

#[tokio::test]
async fn register_and_login_texts_line_burst() {
    let srv = TestServer::start().await;
    let mut c = Client::connect(srv.addr()).await;
    c.expect(GREETING).await;
    c.send_raw(
        b"/register\r\n/register bob pw\r\n/register bob pw\r\n/login bob nope\r\n/\r\n/login bob pw\r\n/members\r\n",
    )
    .await;
    c.expect_lines(&[
        "Usage: /register <username> <password>",
        GREETING,
        "Registration successful. Please log in.",
        GREETING,
        "Username already taken. Try another.",
        GREETING,
        "Invalid username or password.",
        GREETING,
        "*Ping*",
        "Login successful.",
        "Available servers: general",
        "Select a server using /join_server <server_name>.",
        "Please log in and join a server first.",
    ])
    .await;
}

#[tokio::test]
async fn base64_password_and_name_rules() {
    let srv = TestServer::start().await;
    let mut c = Client::connect(srv.addr()).await;
    c.expect(GREETING).await;
    c.send("/register carol@home p4ss").await;
    c.expect_lines(&["Registration successful. Please log in.", GREETING]).await;
    // '@' became '_'; the password may be sent base64-encoded ("p4ss" = cDRzcw==).
    c.send("/login carol_home cDRzcw==").await;
    c.expect_lines(&[
        "Login successful.",
        "Available servers: general",
        "Select a server using /join_server <server_name>.",
    ])
    .await;

    let mut d = Client::connect(srv.addr()).await;
    d.expect(GREETING).await;
    d.send("/register a,b pw").await;
    d.expect_lines(&["Error: Names cannot contain spaces, commas or control characters.", GREETING]).await;
    d.send(&format!("/register {} pw", "x".repeat(33))).await;
    d.expect_lines(&["Error: Names can be at most 32 characters long.", GREETING]).await;
    d.send("/register  pw").await;
    d.expect_lines(&["Error: Names cannot be empty.", GREETING]).await;
}

#[tokio::test]
async fn keepalive_glued_to_a_command_and_nagle_split() {
    let srv = TestServer::start().await;
    let mut c = Client::connect(srv.addr()).await;
    c.expect(GREETING).await;
    c.send_bare("/register dave pw").await;
    c.expect_lines(&["Registration successful. Please log in.", GREETING]).await;
    // A client library's keep-alive and next command arriving as one packet.
    c.send_bare("//login dave pw").await;
    c.expect_lines(&[
        "*Ping*",
        "Login successful.",
        "Available servers: general",
        "Select a server using /join_server <server_name>.",
    ])
    .await;
    c.send_bare("///join_server general").await;
    c.expect_lines(&["*Ping*", "*Ping*", "Joined server 'general' successfully.", "*** dave has joined the server."])
        .await;
}

#[tokio::test]
async fn bare_packets_sent_during_a_slow_login_stay_separate() {
    let srv = TestServer::start().await;
    let mut c = Client::connect(srv.addr()).await;
    c.expect(GREETING).await;
    c.send_bare("/register erin pw").await;
    c.expect_lines(&["Registration successful. Please log in.", GREETING]).await;
    // No pause for the login's answer: the join arrives while the password is being verified.
    c.send_raw(b"/login erin pw").await;
    tokio::time::sleep(std::time::Duration::from_millis(15)).await;
    c.send_raw(b"/join_server general").await;
    c.expect_lines(&[
        "Login successful.",
        "Available servers: general",
        "Select a server using /join_server <server_name>.",
        "Joined server 'general' successfully.",
        "*** erin has joined the server.",
    ])
    .await;
}

#[tokio::test]
async fn oversize_and_invalid_utf8_keep_the_connection() {
    let srv = TestServer::start().await;
    let mut c = Client::login_new(srv.addr(), "frank", "pw").await;
    c.join("general").await;
    let mut big = vec![b'a'; 40_000];
    big.extend_from_slice(b"\r\n");
    c.send_raw(&big).await;
    c.expect("Error: message too long (the limit is 32768 bytes); it was discarded.").await;
    // A bare oversize packet (no terminator) too.
    c.send_raw(&vec![b'b'; 33_000]).await;
    c.expect("Error: message too long (the limit is 32768 bytes); it was discarded.").await;
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    c.send_raw(b"\xff\xfeabc\r\n").await;
    c.expect("Error: message is not valid UTF-8; it was discarded.").await;
    // Exactly 32,768 bytes is allowed.
    let exact = "c".repeat(32_768 - "frank: ".len() + 7);
    c.send(&exact[..32_768]).await;
    let got = c.recv().await;
    assert_eq!(got.len(), "frank: ".len() + 32_768);
    c.send("still here").await;
    c.expect("frank: still here").await;
}

#[tokio::test]
async fn legacy_compat_texts() {
    let srv = TestServer::builder().toml("[compat]\nlegacy = true").start().await;
    let mut c = Client::connect(srv.addr()).await;
    c.expect(&format!("{GREETING} ")).await;
    c.send_bare("/").await;
    c.expect("*Ping!*").await;
    c.send_bare("x").await;
    c.expect(&format!("{GREETING} ")).await;
}
