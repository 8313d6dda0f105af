//! The commands, as mini-redis does them: a message is parsed into one
//! [`Command`] value ([`Command::parse`]), then applied ([`Command::apply`]).
//! One file per command holds its parsed type with its `parse` and its
//! `apply`; [`args`] is the one place arguments are split. Command files
//! import only [`args`], [`ctx`] and each other, never this module.

pub mod args;
pub mod ctx;

mod act;
mod ban;
mod browser;
mod capability;
mod chat;
mod create_server;
mod delete_server;
mod flood;
mod help;
mod join_server;
mod list_servers;
mod login;
mod members;
mod pm;
mod register;
mod reload_capability;
mod say;
mod unban;

pub use act::Act;
pub use args::Usage;
pub use ban::Ban;
pub use capability::Capability;
pub use chat::Chat;
pub use create_server::CreateServer;
pub use ctx::Ctx;
pub use delete_server::DeleteServer;
pub use flood::{gate, Gate};
pub use join_server::JoinServer;
pub use list_servers::ListServers;
pub use login::Login;
pub use pm::Pm;
pub use register::Register;
pub use reload_capability::ReloadCapability;
pub use unban::Unban;

/// Who sends a message: it decides which commands exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Not logged in: only /register and /login.
    Guest,
    /// Logged in.
    User,
    /// Logged in as an administrator: /ban, /unban, /delete_server and /reload_capability too.
    Admin,
}

impl Ctx<'_> {
    /// The role this message is parsed with. Whether the account is an
    /// administrator is asked only for the admin commands' words (it can change
    /// while the session runs), so chat costs nothing extra.
    pub fn role_for(&self, text: &str) -> Role {
        let Some(account) = &self.state.account else { return Role::Guest };
        let word = text.split(' ').next().unwrap_or("");
        if matches!(word, "/ban" | "/unban" | "/delete_server" | "/reload_capability") && self.hub().is_admin(account) {
            Role::Admin
        } else {
            Role::User
        }
    }
}

/// One client message, parsed. Borrows from the message: parsing allocates nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command<'a> {
    /// Before login, anything but /register and /login: the greeting again.
    Greet,
    /// Before login, an HTTP request line: a browser greeted by mistake; closes.
    HttpRequest,
    /// A command whose arguments do not fit.
    Usage(Usage),
    /// `/register NAME PASSWORD`.
    Register(Register<'a>),
    /// `/login NAME PASSWORD`.
    Login(Login<'a>),
    /// A chat line (no leading `/`).
    Chat(Chat<'a>),
    /// `/act ACTION`.
    Act(Act<'a>),
    /// `/create_server NAME`.
    CreateServer(CreateServer<'a>),
    /// `/join_server NAME` or `NAME@HOST`.
    JoinServer(JoinServer<'a>),
    /// `/list_servers [PAGE]`.
    ListServers(ListServers),
    /// `/members`.
    Members,
    /// `/pm USER MESSAGE` or `USER@HOST MESSAGE`.
    Pm(Pm<'a>),
    /// `/help`.
    Help,
    /// `/list_capabilities`.
    ListCapabilities,
    /// `/ban USER` (admins).
    Ban(Ban<'a>),
    /// `/unban USER` (admins).
    Unban(Unban<'a>),
    /// `/delete_server NAME` (admins).
    DeleteServer(DeleteServer<'a>),
    /// `/reload_capability NAME` (admins).
    ReloadCapability(ReloadCapability<'a>),
    /// `/CAP` or `/CAP-COMMAND ARGS`, and any other word starting with `/`.
    Capability(Capability<'a>),
}

/// The command, or its usage error.
fn or_usage<'a, T>(parsed: Result<T, Usage>, command: fn(T) -> Command<'a>) -> Command<'a> {
    parsed.map_or_else(Command::Usage, command)
}

impl<'a> Command<'a> {
    /// Parses one message (keep-alive slashes already taken off, see [`keepalives`]).
    pub fn parse(text: &'a str, role: Role) -> Command<'a> {
        let word = text.split(' ').next().unwrap_or("");
        if role == Role::Guest {
            return match word {
                "/register" => or_usage(Register::parse(text), Command::Register),
                "/login" => or_usage(Login::parse(text), Command::Login),
                _ if browser::is_request_line(text) => Command::HttpRequest,
                _ => Command::Greet,
            };
        }
        if !text.starts_with('/') {
            return Command::Chat(Chat(text));
        }
        match word {
            "/create_server" => or_usage(CreateServer::parse(text), Command::CreateServer),
            "/join_server" => or_usage(JoinServer::parse(text), Command::JoinServer),
            "/list_servers" => Command::ListServers(ListServers::parse(text)),
            "/members" => Command::Members,
            "/act" => or_usage(Act::parse(text), Command::Act),
            "/pm" => or_usage(Pm::parse(text), Command::Pm),
            "/help" => Command::Help,
            "/list_capabilities" => Command::ListCapabilities,
            "/ban" if role == Role::Admin => or_usage(Ban::parse(text), Command::Ban),
            "/unban" if role == Role::Admin => or_usage(Unban::parse(text), Command::Unban),
            "/delete_server" if role == Role::Admin => or_usage(DeleteServer::parse(text), Command::DeleteServer),
            "/reload_capability" if role == Role::Admin => {
                or_usage(ReloadCapability::parse(text), Command::ReloadCapability)
            }
            _ => Command::Capability(Capability::parse(text)),
        }
    }

    /// Runs the command in the session's current state.
    pub async fn apply(self, ctx: &mut Ctx<'_>) {
        match self {
            Command::Greet => ctx.reply(ctx.shared.greeting()),
            Command::HttpRequest => browser::apply(ctx),
            Command::Usage(usage) => {
                ctx.reply(usage.text);
                if usage.greet {
                    ctx.reply(ctx.shared.greeting());
                }
            }
            Command::Register(c) => c.apply(ctx).await,
            Command::Login(c) => c.apply(ctx).await,
            Command::Chat(c) => c.apply(ctx).await,
            Command::Act(c) => c.apply(ctx).await,
            Command::CreateServer(c) => c.apply(ctx).await,
            Command::JoinServer(c) => c.apply(ctx).await,
            Command::ListServers(c) => c.apply(ctx),
            Command::Members => members::apply(ctx).await,
            Command::Pm(c) => c.apply(ctx).await,
            Command::Help => help::apply(ctx),
            Command::ListCapabilities => capability::list(ctx),
            Command::Ban(c) => c.apply(ctx).await,
            Command::Unban(c) => c.apply(ctx).await,
            Command::DeleteServer(c) => c.apply(ctx).await,
            Command::ReloadCapability(c) => c.apply(ctx).await,
            Command::Capability(c) => c.apply(ctx).await,
        }
    }
}

/// Handles one message: keep-alives first (`//login a b` is one keep-alive and
/// a command), then the command or chat. The session asks [`gate`] first.
pub async fn run(ctx: &mut Ctx<'_>, text: &str) {
    let (pings, rest) = keepalives(text);
    for _ in 0..pings {
        ctx.reply(ctx.shared.ping());
    }
    let Some(text) = rest else { return };
    Command::parse(text, ctx.role_for(text)).apply(ctx).await;
}

/// Keep-alives (protocol.md §2): a message of only slashes is one; otherwise each
/// slash beyond the first is one (`//login a b` is a keep-alive and a /login).
/// Returns how many to answer and the message left to parse, if any.
pub fn keepalives(text: &str) -> (usize, Option<&str>) {
    let slashes = text.bytes().take_while(|&b| b == b'/').count();
    if slashes == text.len() {
        return (1, None);
    }
    let rest = if slashes > 1 { &text[slashes - 1..] } else { text };
    (slashes.saturating_sub(1), Some(rest))
}

#[cfg(test)]
mod prop;
#[cfg(test)]
mod tests;
