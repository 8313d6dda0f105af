//! The two protocol drivers: the same steps spoken as DMconnect (docs/protocol.md §3, §4) or IRC.

use crate::conn::{Conn, Transport};
use std::io;

/// Password every benchmark account uses.
pub const PASSWORD: &str = "benchpass";

/// Which protocol a run speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    /// DMconnect plain port.
    Dm,
    /// DMconnect over WebSocket (`GET /ws` on the plain port).
    Ws,
    /// DMconnect inside TLS (`--addr` is the TLS port; any certificate accepted).
    Tls,
    /// DMconnect on the legacy encrypted port (`--addr` is that port).
    Legacy,
    /// RFC 1459/2812 IRC.
    Irc,
}

fn fail(step: &str, line: &str) -> io::Error {
    io::Error::other(format!("{step} refused: {line}"))
}

/// Waits for one of `ok`; greetings and pings are skipped, any other line is the refusal.
async fn dm_expect(c: &mut Conn, step: &str, ok: &[&str]) -> io::Result<()> {
    c.expect(|l| {
        if ok.contains(&l) {
            Some(Ok(()))
        } else if l.starts_with("Enter command") || l.starts_with("*Ping") {
            None
        } else {
            Some(Err(fail(step, l)))
        }
    })
    .await?
}

impl Proto {
    /// True when connections are WebSockets.
    pub fn websocket(self) -> bool {
        self == Proto::Ws
    }

    /// How connections carry lines.
    pub fn transport(self) -> Transport {
        match self {
            Proto::Dm | Proto::Irc => Transport::Tcp,
            Proto::Ws => Transport::Ws,
            Proto::Tls => Transport::Tls,
            Proto::Legacy => Transport::Legacy,
        }
    }

    /// Creates the account (DMconnect only; IRC has none). An existing account is fine.
    pub async fn register(self, c: &mut Conn, name: &str) -> io::Result<()> {
        if self == Proto::Irc {
            return Ok(());
        }
        c.send_line(&format!("/register {name} {PASSWORD}")).await?;
        dm_expect(c, "register", &["Registration successful. Please log in.", "Username already taken. Try another."])
            .await
    }

    /// Logs in (DMconnect) or registers the connection (IRC `NICK`/`USER`, until `001`).
    pub async fn login(self, c: &mut Conn, name: &str) -> io::Result<()> {
        match self {
            Proto::Dm | Proto::Ws | Proto::Tls | Proto::Legacy => {
                c.send_line(&format!("/login {name} {PASSWORD}")).await?;
                dm_expect(c, "login", &["Login successful."]).await?;
                // Drain the rest of the three-line answer so the next step starts clean.
                c.expect(|l| l.starts_with("Select a server").then_some(())).await
            }
            Proto::Irc => {
                c.send_line(&format!("NICK {name}")).await?;
                c.send_line(&format!("USER {name} 0 * :{name}")).await?;
                c.expect(|l| match irc_numeric(l) {
                    Some("001") => Some(Ok(())),
                    Some("432" | "433" | "436") => Some(Err(fail("NICK", l))),
                    _ if l.starts_with("ERROR") => Some(Err(fail("registration", l))),
                    _ => None,
                })
                .await?
            }
        }
    }

    /// Makes sure a room exists (DMconnect `/create_server`; IRC channels appear on JOIN).
    pub async fn create_room(self, c: &mut Conn, room: &str) -> io::Result<()> {
        if self == Proto::Irc {
            return Ok(());
        }
        c.send_line(&format!("/create_server {room}")).await?;
        let ok = format!("Server '{room}' created successfully.");
        dm_expect(c, "create_server", &[&ok, "Server already exists."]).await
    }

    /// Joins a room and waits until the server confirmed it.
    pub async fn join(self, c: &mut Conn, room: &str) -> io::Result<()> {
        match self {
            Proto::Dm | Proto::Ws | Proto::Tls | Proto::Legacy => {
                c.send_line(&format!("/join_server {room}")).await?;
                let ok = format!("Joined server '{room}' successfully.");
                dm_expect(c, "join_server", &[&ok]).await
            }
            Proto::Irc => {
                c.send_line(&format!("JOIN #{room}")).await?;
                c.expect(|l| match irc_numeric(l) {
                    Some("366") => Some(Ok(())),
                    Some("403" | "405" | "471" | "473" | "474" | "475") => Some(Err(fail("JOIN", l))),
                    _ => None,
                })
                .await?
            }
        }
    }

    /// The line that says `text` to the whole room.
    pub fn chat_line(self, room: &str, text: &str) -> String {
        match self {
            Proto::Dm | Proto::Ws | Proto::Tls | Proto::Legacy => text.to_string(),
            Proto::Irc => format!("PRIVMSG #{room} :{text}"),
        }
    }

    /// The line that says `text` privately to `user`.
    pub fn pm_line(self, user: &str, text: &str) -> String {
        match self {
            Proto::Dm | Proto::Ws | Proto::Tls | Proto::Legacy => format!("/pm {user} {text}"),
            Proto::Irc => format!("PRIVMSG {user} :{text}"),
        }
    }
}

/// The numeric of a server reply such as `:irc.x 001 nick :Welcome`.
fn irc_numeric(line: &str) -> Option<&str> {
    let mut it = line.split(' ');
    let first = it.next()?;
    if !first.starts_with(':') {
        return None;
    }
    it.next().filter(|n| n.len() == 3 && n.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_is_read_from_server_lines_only() {
        assert_eq!(irc_numeric(":irc.x 001 b1 :Welcome"), Some("001"));
        assert_eq!(irc_numeric(":b1!u@h PRIVMSG #r :001"), None);
        assert_eq!(irc_numeric("PING :x"), None);
    }

    #[test]
    fn lines_are_spelled_per_protocol() {
        assert_eq!(Proto::Dm.chat_line("r0", "hi"), "hi");
        assert_eq!(Proto::Irc.chat_line("r0", "hi"), "PRIVMSG #r0 :hi");
        assert_eq!(Proto::Dm.pm_line("bob", "hi there"), "/pm bob hi there");
        assert_eq!(Proto::Irc.pm_line("bob", "hi"), "PRIVMSG bob :hi");
    }
}
