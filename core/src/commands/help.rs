//! `/help`.

use super::ctx::Ctx;

const LINES: &[&str] = &[
    "/create_server <server_name> - Create a new server",
    "/join_server <server_name> - Join a server (server_name@host for one on another host)",
    "/list_servers [page] - List the servers on this host (long lists come in pages)",
    "/members - List the members of your current server",
    "/act <act> - Send an action to your current server",
    "/pm <username> <message> - Send a private message (username@host for a user on another host)",
    "/list_capabilities - List the capabilities of this server",
    "/help - Show this help",
];

const ADMIN_LINES: &[&str] = &[
    "/ban <username> - Disconnect a user and refuse their logins (admin)",
    "/unban <username> - Allow a banned user to log in again (admin)",
    "/delete_server <server_name> - Delete a server (admin)",
];

/// One line per core command, `COMMAND ARGS - DESCRIPTION`.
pub fn apply(ctx: &mut Ctx<'_>) {
    let mut lines: Vec<&str> = LINES.to_vec();
    if ctx.hub().is_admin(&ctx.account()) {
        lines.extend_from_slice(ADMIN_LINES);
    }
    ctx.reply(&lines.join("\n"));
}
