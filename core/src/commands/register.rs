//! `/register NAME PASSWORD` (before login).

use super::{split, storage_failed, Ctx};
use crate::{names, replies};

/// Registers an account; always ends with the greeting.
pub async fn run(ctx: &mut Ctx<'_>, text: &str) {
    let parts = split(text, 3);
    if parts.len() < 3 || parts[2].is_empty() {
        ctx.reply(replies::USAGE_REGISTER);
    } else {
        match names::normalise_account(parts[1]) {
            Err(reason) => ctx.reply(&replies::refused(reason)),
            Ok(name) => register(ctx, name, parts[2].to_owned()).await,
        }
    }
    ctx.reply(ctx.shared.greeting());
}

async fn register(ctx: &Ctx<'_>, name: String, password: String) {
    let store = ctx.hub().store().clone();
    let n = name.clone();
    match store.run(move |s| s.account_exists(&n)).await {
        Ok(true) => return ctx.reply(replies::NAME_TAKEN),
        Ok(false) => {}
        Err(e) => return storage_failed(ctx, &e),
    }
    let hash = match ctx.shared.auth.hash(password).await {
        Ok(h) => h,
        Err(e) => return storage_failed(ctx, &e),
    };
    match store.run(move |s| s.add_account(&name, &hash)).await {
        Ok(true) => {
            crate::metrics::M.registrations.inc();
            ctx.reply(replies::REGISTERED)
        }
        Ok(false) => ctx.reply(replies::NAME_TAKEN),
        Err(e) => storage_failed(ctx, &e),
    }
}
