//! Admission for logins and registrations: the `[limits]` budgets in front of
//! the hashing threads. The commands call these and only word the answers.

use crate::context::Shared;
use crate::limits::{Budgets, MAX_LOGIN_WAIT};
use crate::replies;
use base64::Engine;
use std::net::IpAddr;

/// The outcome of a login attempt's password check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// The password matches.
    Ok,
    /// Unknown account or wrong password (indistinguishable by design).
    Bad,
    /// This address failed too often: refused without checking.
    TooMany,
    /// The hashing queues are full: refused without checking.
    Busy,
}

/// Checks `password` for `account` (`stored` is its hash, `None` if unknown).
///
/// One argon2 run per attempt: the text as sent is checked first. The reference
/// also accepts the password base64-encoded, so when the text fails and is valid
/// base64 of other UTF-8 text, the decoding is checked as a SECOND attempt: it
/// waits for its own turn under the same budgets, and a login failing both counts
/// two failures (a right base64 password forgives both). Unknown accounts go the
/// same path against a dummy hash, so neither the time taken nor the delays reveal
/// which accounts exist.
pub async fn check_login(shared: &Shared, ip: IpAddr, account: &str, stored: Option<String>, password: &str) -> Check {
    let budgets = &shared.budgets;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(password.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .filter(|d| d != password);
    let mut tried = 0;
    for candidate in std::iter::once(password.to_owned()).chain(decoded) {
        // Charged as a failure before the check (parallel connections cannot all
        // slip through the free budget at once); forgiven when the password is right.
        if let Err(refusal) = wait_turn(budgets, account, ip).await {
            return refusal;
        }
        tried += 1;
        match shared.auth.verify(ip, stored.clone(), candidate).await {
            Ok(true) => {
                budgets.login_ok(account, ip, tried);
                return Check::Ok;
            }
            Ok(false) => {}
            Err(_) => {
                budgets.login_unchecked(account, ip);
                return Check::Busy;
            }
        }
    }
    // The name is whatever the client sent: log a bounded prefix.
    let shown: String = account.chars().take(crate::names::MAX_NAME).collect();
    tracing::info!(%ip, account = %shown, "failed login");
    Check::Bad
}

/// Sleeps through this attempt's delay (only this session waits), or refuses it.
async fn wait_turn(budgets: &Budgets, account: &str, ip: IpAddr) -> Result<(), Check> {
    let wait = budgets.login_attempt(account, ip);
    if wait > MAX_LOGIN_WAIT {
        budgets.login_unchecked(account, ip);
        return Err(Check::TooMany);
    }
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
    Ok(())
}

/// Hashes a new account's password if `ip` still has registrations left.
pub async fn hash_new_password(
    shared: &Shared,
    ip: IpAddr,
    password: String,
) -> Result<Result<String, String>, &'static str> {
    if !shared.budgets.may_register(ip) {
        tracing::info!(%ip, "registration refused: budget spent");
        return Err(replies::TOO_MANY_REGISTRATIONS);
    }
    shared.auth.hash(ip, password).await.map_err(|_| replies::BUSY)
}

/// Checks `max_rooms` and `max_rooms_per_account` (administrators are exempt from the latter).
pub async fn may_create_room(shared: &Shared, account: &str) -> Result<(), String> {
    let (total, per_account) = shared.budgets.rooms();
    if total != 0 && shared.hub.room_names().len() >= total {
        return Err(replies::too_many_rooms(total));
    }
    if per_account == 0 || shared.hub.is_admin(account) {
        return Ok(());
    }
    let a = account.to_owned();
    match shared.hub.store().run(move |s| s.rooms_created_by(&a)).await {
        Ok(n) if n >= per_account => Err(replies::too_many_rooms_per_account(per_account)),
        Ok(_) => Ok(()),
        Err(e) => {
            tracing::error!("{e}");
            Err(crate::replies::STORAGE_ERROR.to_owned())
        }
    }
}
