//! Account, ban, room and administrator commands. Each writes the database itself
//! (SQLite is safe across processes) and then tells a running server over the
//! control socket so the change takes effect at once.

use super::{out, AdminAction, Env, Global, RoomAction, UserAction};
use dmconnect::auth::Auth;
use dmconnect::names::normalise_account;
use dmconnect::store::{Store, StoreError};
use serde_json::json;
use std::io::{BufRead, IsTerminal};

fn db<T>(r: Result<T, StoreError>) -> Result<T, String> {
    r.map_err(|e| e.to_string())
}

/// What to print after a change: whether a running server applied it.
fn applied(answer: Option<serde_json::Value>, live: &str) -> String {
    match answer {
        Some(_) => live.to_owned(),
        None => "no server running; stored".to_owned(),
    }
}

/// Reads a new password: a prompt without echo on a terminal, else one line of stdin.
fn read_password(from_stdin: bool) -> Result<String, String> {
    let password = if from_stdin || !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map_err(|e| e.to_string())?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        let first = rpassword::prompt_password("Password: ").map_err(|e| e.to_string())?;
        let again = rpassword::prompt_password("Again: ").map_err(|e| e.to_string())?;
        if first != again {
            return Err("the passwords differ".into());
        }
        first
    };
    if password.is_empty() {
        return Err("empty password".into());
    }
    Ok(password)
}

/// `user add|passwd|del|list`.
pub fn user(g: &Global, action: UserAction) -> Result<(), String> {
    let env = Env::load(g)?;
    match action {
        UserAction::Add { name, password_stdin, create } => {
            let name = normalise_account(&name)?;
            let store =
                if create && !env.cfg.cluster.enabled { db(Store::open(env.data_dir()))? } else { env.store()? };
            let hash = Auth::new(&env.cfg.auth)?.hash_blocking(&read_password(password_stdin)?)?;
            if !db(store.add_account(&name, &hash))? {
                return Err(format!("account {name:?} already exists"));
            }
            out(&format!("account {name:?} added"));
        }
        UserAction::Passwd { name, password_stdin } => {
            let store = env.store()?;
            if !db(store.account_exists(&name))? {
                return Err(format!("no account {name:?}"));
            }
            let hash = Auth::new(&env.cfg.auth)?.hash_blocking(&read_password(password_stdin)?)?;
            db(store.set_hash(&name, &hash))?;
            out(&format!("password of {name:?} changed; it is used from the next login"));
        }
        UserAction::Del { name } => {
            if !db(env.store()?.delete_account(&name))? {
                return Err(format!("no account {name:?}"));
            }
            let note = applied(env.notify(json!({"op": "kick", "user": name}))?, "its sessions were closed");
            out(&format!("account {name:?} deleted; {note}"));
        }
        UserAction::List => {
            for (name, banned) in db(env.store()?.accounts())? {
                out(&if banned { format!("{name} (banned)") } else { name });
            }
        }
    }
    Ok(())
}

/// `ban NAME` / `unban NAME`.
pub fn ban(g: &Global, name: &str, ban: bool) -> Result<(), String> {
    let env = Env::load(g)?;
    if !db(env.store()?.set_banned(name, ban))? {
        return Err(format!("no account {name:?}"));
    }
    if ban {
        let note = applied(env.notify(json!({"op": "kick", "user": name}))?, "its sessions were closed");
        out(&format!("{name:?} banned; {note}"));
    } else {
        out(&format!("{name:?} unbanned"));
    }
    Ok(())
}

/// `room list|del`.
pub fn room(g: &Global, action: RoomAction) -> Result<(), String> {
    let env = Env::load(g)?;
    let store = env.store()?;
    match action {
        RoomAction::List => db(store.rooms())?.iter().for_each(|r| out(r)),
        RoomAction::Del { name } => {
            if name == env.cfg.server.default_server {
                return Err(format!(
                    "{name:?} is the default subserver ([server] default_server); it cannot be deleted"
                ));
            }
            if !db(store.delete_room(&name))? {
                return Err(format!("no subserver {name:?}"));
            }
            let note = applied(env.notify(json!({"op": "room_deleted", "room": name}))?, "its members were told");
            out(&format!("subserver {name:?} deleted; {note}"));
        }
    }
    Ok(())
}

/// `admin add|del|list`.
pub fn admin(g: &Global, action: AdminAction) -> Result<(), String> {
    let env = Env::load(g)?;
    let store = env.store()?;
    let (name, add) = match action {
        AdminAction::List => {
            env.cfg.server.admins.iter().for_each(|a| out(&format!("{a} (config)")));
            db(store.admins())?.iter().for_each(|a| out(&format!("{a} (database)")));
            return Ok(());
        }
        AdminAction::Add { name } => (name, true),
        AdminAction::Del { name } => (name, false),
    };
    if add && !db(store.account_exists(&name))? {
        return Err(format!("no account {name:?}"));
    }
    if !db(store.set_admin(&name, add))? {
        let why = if add { "is an administrator already" } else { "is no administrator in the database" };
        return Err(format!("{name:?} {why}"));
    }
    let note = applied(env.notify(json!({"op": "admins"}))?, "in effect now");
    let what = if add { "is an administrator" } else { "is no longer an administrator" };
    out(&format!("{name:?} {what}; {note}"));
    if !add && env.cfg.server.admins.contains(&name) {
        out(&format!("note: {name:?} is still listed in [server] admins of the config"));
    }
    Ok(())
}
