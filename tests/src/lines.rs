//! Protocol steps every test client shares, whatever its transport (plain TCP,
//! TLS, the encrypted port, WebSocket): a client says how it sends a message and
//! reads a line; the steps are written here once.

use crate::{Client, GREETING};
use std::net::SocketAddr;

/// A client that sends messages and reads lines.
#[allow(async_fn_in_trait)]
pub trait LineClient {
    /// Sends one message.
    async fn send_line(&mut self, text: &str);

    /// The next line from the server (panics after a few seconds without one).
    async fn next_line(&mut self) -> String;

    /// Asserts the next line.
    async fn expect_line(&mut self, want: &str) {
        assert_eq!(self.next_line().await, want);
    }

    /// From the greeting on: registers `name` (password `pw`), up to the greeting that follows.
    async fn register(&mut self, name: &str) {
        self.expect_line(GREETING).await;
        self.send_line(&format!("/register {name} pw")).await;
        self.expect_line("Registration successful. Please log in.").await;
        self.expect_line(GREETING).await;
    }

    /// Sends `/login NAME pw` and reads the login block.
    async fn login(&mut self, name: &str) {
        self.send_line(&format!("/login {name} pw")).await;
        self.expect_line("Login successful.").await;
        self.expect_line("Available servers: general").await;
        self.expect_line("Select a server using /join_server <server_name>.").await;
    }

    /// Joins `general` as `name`'s first session there.
    async fn join_general(&mut self, name: &str) {
        self.send_line("/join_server general").await;
        self.expect_line("Joined server 'general' successfully.").await;
        self.expect_line(&format!("*** {name} has joined the server.")).await;
    }
}

/// `other` (`name`, in `general` on another transport) and a new plain TCP user
/// `bob` see each other join and chat; returns bob, still in `general`.
pub async fn chat_with_plain_user<C: LineClient>(other: &mut C, name: &str, addr: SocketAddr) -> Client {
    let mut bob = Client::login_new(addr, "bob", "pw").await;
    bob.join("general").await;
    other.expect_line("*** bob has joined the server.").await;
    other.send_line("hello").await;
    other.expect_line(&format!("{name}: hello")).await;
    bob.expect(&format!("{name}: hello")).await;
    bob.send("hi there").await;
    bob.expect("bob: hi there").await;
    other.expect_line("bob: hi there").await;
    bob
}
