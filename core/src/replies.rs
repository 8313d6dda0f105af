//! Every reply text the server sends to clients, in one place: the protocol's
//! vocabulary (docs/protocol.md lists them).

macro_rules! greeting {
    () => {
        "Enter command (/login /register):"
    };
}
/// The greeting.
pub const GREETING: &str = greeting!();
/// The greeting in legacy mode: one trailing space, as the reference sends it.
pub const GREETING_LEGACY: &str = concat!(greeting!(), " ");
/// Keep-alive answer.
pub const PING: &str = "*Ping*";
/// Keep-alive answer in legacy mode.
pub const PING_LEGACY: &str = "*Ping!*";
/// Usage of /register.
pub const USAGE_REGISTER: &str = "Usage: /register <username> <password>";
/// /register with a taken name.
pub const NAME_TAKEN: &str = "Username already taken. Try another.";
/// /register done.
pub const REGISTERED: &str = "Registration successful. Please log in.";
/// Usage of /login.
pub const USAGE_LOGIN: &str = "Usage: /login <username> <password>";
/// /login failed.
pub const BAD_LOGIN: &str = "Invalid username or password.";
/// First line after login.
pub const LOGGED_IN: &str = "Login successful.";
/// Last line after login.
pub const SELECT_SERVER: &str = "Select a server using /join_server <server_name>.";
/// Unknown command after login.
pub const UNKNOWN: &str = "Unknown command.";
/// Usage of /create_server.
pub const USAGE_CREATE: &str = "Usage: /create_server <server_name>";
/// /create_server on an existing name.
pub const SERVER_EXISTS: &str = "Server already exists.";
/// Usage of /join_server.
pub const USAGE_JOIN: &str = "Usage: /join_server <server_name>";
/// /join_server on an unknown subserver.
pub const NO_SUCH_SERVER: &str = "Server does not exist.";
/// Chat, /act or /members before joining.
pub const JOIN_FIRST: &str = "Please log in and join a server first.";
/// /members of an unreachable remote subserver.
pub const MEMBERS_FAILED: &str = "Failed to fetch members.";
/// Usage of /act.
pub const USAGE_ACT: &str = "Usage: /act <act>";
/// /act with a reserved text.
pub const ACT_NOT_ALLOWED: &str = "This action is not allowed.";
/// The reserved join text.
pub const JOINED_TEXT: &str = "has joined the server.";
/// The reserved leave text.
pub const LEFT_TEXT: &str = "has left the server.";
/// Usage of /pm.
pub const USAGE_PM: &str = "Usage: /pm <username> <message>";
/// /pm to an unknown account.
pub const NO_SUCH_USER: &str = "User does not exist.";
/// /pm to oneself.
pub const PM_SELF: &str = "You cannot send private messages to yourself.";
/// No capability loaded.
pub const NO_CAPABILITIES: &str = "No capabilities available.";
/// Too long input (see protocol.md §2).
pub const TOO_LONG: &str = "Error: message too long (the limit is 32768 bytes); it was discarded.";
/// Invalid UTF-8 input.
pub const BAD_UTF8: &str = "Error: message is not valid UTF-8; it was discarded.";
/// Storage failure.
pub const STORAGE_ERROR: &str = "Error: the server could not complete this request. Try again later.";
/// Login of a banned account.
pub const BANNED: &str = "This account is banned.";
/// Sent to sessions of an account when it is banned.
pub const YOU_ARE_BANNED: &str = "You have been banned from this server.";
/// Sent to sessions on shutdown.
pub const SHUTTING_DOWN: &str = "Server is shutting down.";
/// The `/general` subserver cannot be deleted.
pub const CANNOT_DELETE_DEFAULT: &str = "The default server cannot be deleted.";
/// Said (plain port only) before closing a connection over `max_connections_per_ip`.
pub const TOO_MANY_FROM_IP: &str = "Too many connections from your address.";
/// Said (plain port only) before closing a connection over `max_connections`.
pub const SERVER_FULL: &str = "Server is full; try again later.";
/// Refusal when an address has failed too often.
pub const TOO_MANY_LOGINS: &str = "Too many failed logins; try again later.";
/// Refusal when the hashing queues are full.
pub const BUSY: &str = "The server is busy; try again in a moment.";
/// Refusal past `registrations_per_ip_per_hour`.
pub const TOO_MANY_REGISTRATIONS: &str = "Too many registrations from your address; try again later.";
/// Told once per stretch of throttling.
pub const TOO_FAST: &str = "You are sending messages too fast.";
/// Said before disconnecting a sender throttled for [`crate::limits::FLOOD_DISCONNECT`] without a break.
pub const FLOOD_KICK: &str = "Disconnected: you kept sending messages too fast.";
/// Usage of /ban.
pub const USAGE_BAN: &str = "Usage: /ban <username>";
/// Usage of /unban.
pub const USAGE_UNBAN: &str = "Usage: /unban <username>";
/// Usage of /delete_server.
pub const USAGE_DELETE: &str = "Usage: /delete_server <server_name>";
/// An admin's /ban of their own account.
pub const BAN_SELF: &str = "Error: you cannot ban yourself.";

/// `/ban` done.
pub fn banned(user: &str) -> String {
    format!("User '{user}' has been banned.")
}

/// `/unban` done.
pub fn unbanned(user: &str) -> String {
    format!("User '{user}' has been unbanned.")
}

/// `/delete_server` done (to the admin).
pub fn server_deleted(name: &str) -> String {
    format!("Server '{name}' deleted.")
}

/// Sent to the sessions in a subserver when it is deleted.
pub fn server_deleted_notice(name: &str) -> String {
    format!("Server '{name}' has been deleted.")
}

/// Chat or an action for a remote subserver whose home host cannot be reached.
pub fn not_delivered(host: &str) -> String {
    format!("Error: could not reach {host}; your message was not delivered.")
}

/// A capability command that panicked or failed.
pub fn capability_failed(cap: &str, command: &str) -> String {
    format!("Error: /{cap}-{command} failed inside the capability.")
}

/// A capability command that did not answer within the timeout.
pub fn capability_timed_out(cap: &str, command: &str) -> String {
    format!("Error: /{cap}-{command} did not answer in time.")
}

/// Names `skip..skip + max` joined with `, `; when more follow, `, … and K more`
/// and `hint` (e.g. ` (/list_servers 2)`). Untruncated lists stay as the protocol says.
pub fn name_list(names: &[String], skip: usize, max: usize, hint: &str) -> String {
    let shown = names.iter().skip(skip).take(max.max(1));
    let rest = names.len().saturating_sub(skip.saturating_add(max.max(1)));
    let mut out = shown.map(String::as_str).collect::<Vec<_>>().join(", ");
    if rest > 0 {
        out += &format!(", … and {rest} more{hint}");
    }
    out
}

/// `Login successful.` block's middle line (the first `max` names).
pub fn available_servers(names: &[String], max: usize) -> String {
    format!("Available servers: {}", name_list(names, 0, max, " (/list_servers 2)"))
}

/// `/list_servers [PAGE]` answer: page 1 is the first `max` names.
pub fn servers(names: &[String], page: usize, max: usize) -> String {
    let page = page.max(1);
    let hint = format!(" (/list_servers {})", page + 1);
    format!("Servers: {}", name_list(names, (page - 1).saturating_mul(max), max, &hint))
}

/// `/create_server` success.
pub fn created(name: &str) -> String {
    format!("Server '{name}' created successfully.")
}

/// `/join_server` when already in a subserver.
pub fn already_in(current: &str) -> String {
    format!("You're already connected to the server '{current}'.")
}

/// `/join_server` success.
pub fn joined(name: &str) -> String {
    format!("Joined server '{name}' successfully.")
}

/// `/members` answer (the first `max` names).
pub fn members(room: &str, names: &[String], max: usize) -> String {
    format!("Members in '{room}': {}", name_list(names, 0, max, ""))
}

/// `/pm` delivered.
pub fn pm_sent(to: &str) -> String {
    format!("Private message sent to {to}.")
}

/// `/pm` not delivered.
pub fn pm_failed(to: &str) -> String {
    format!("Failed to send private message to {to}.")
}

/// `/list_capabilities` answer.
pub fn capabilities(names: &[String]) -> String {
    format!("Capabilities: {}. Use /CAPABILITY_NAME for help.", names.join(", "))
}

/// Room chat line.
pub fn chat(from: &str, text: &str) -> String {
    format!("{from}: {text}")
}

/// Room action line.
pub fn act(from: &str, text: &str) -> String {
    format!("*** {from} {text}")
}

/// Join notice.
pub fn join_notice(who: &str) -> String {
    format!("*** {who} {JOINED_TEXT}")
}

/// Leave notice.
pub fn leave_notice(who: &str) -> String {
    format!("*** {who} {LEFT_TEXT}")
}

/// Private message line.
pub fn private(from: &str, text: &str) -> String {
    format!("(Private) {from}: {text}")
}

/// A refused name or text, with the reason.
pub fn refused(reason: &str) -> String {
    format!("Error: {reason}")
}

/// `/create_server` when the host has `max_rooms` subservers.
pub fn too_many_rooms(total: impl std::fmt::Display) -> String {
    format!("This host already has the most servers it allows ({total}).")
}

/// `/create_server` when the account created `max_rooms_per_account`.
pub fn too_many_rooms_per_account(per_account: impl std::fmt::Display) -> String {
    format!("You have created the most servers one account may ({per_account}).")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_bounded_and_exact_when_short() {
        let names: Vec<String> = (0..5).map(|i| format!("r{i}")).collect();
        assert_eq!(servers(&names, 1, 10), "Servers: r0, r1, r2, r3, r4");
        assert_eq!(servers(&names, 1, 2), "Servers: r0, r1, … and 3 more (/list_servers 2)");
        assert_eq!(servers(&names, 3, 2), "Servers: r4");
        assert_eq!(servers(&names, 9, 2), "Servers: ");
        assert_eq!(available_servers(&names, 4), "Available servers: r0, r1, r2, r3, … and 1 more (/list_servers 2)");
        assert_eq!(members("x", &names, 3), "Members in 'x': r0, r1, r2, … and 2 more");
    }
}
