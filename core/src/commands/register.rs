//! `/register NAME PASSWORD` (before login).

use super::{given, storage_failed, words, Command, Ctx};
use crate::{names, replies};

/// Parses `/register NAME PASSWORD`; the name is checked when applied.
pub fn parse(text: &str) -> Command<'_> {
    match words::<3>(text) {
        [_, Some(name), password] if given(password).is_some() => {
            Command::Register { name, password: password.unwrap_or_default() }
        }
        _ => Command::Usage { text: replies::USAGE_REGISTER, greet: true },
    }
}

/// Registers an account; always ends with the greeting.
pub async fn apply(ctx: &mut Ctx<'_>, name: &str, password: &str) {
    match names::normalise_account(name) {
        Err(reason) => ctx.reply(&replies::refused(reason)),
        Ok(name) => register(ctx, name, password.to_owned()).await,
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
        Ok(true) => ctx.reply(replies::REGISTERED),
        Ok(false) => ctx.reply(replies::NAME_TAKEN),
        Err(e) => storage_failed(ctx, &e),
    }
}
