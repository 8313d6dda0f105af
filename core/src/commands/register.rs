//! `/register NAME PASSWORD` (before login).

use super::{split, storage_failed, Ctx};
use crate::{gate, names, replies};

/// Registers an account; always ends with the greeting.
pub async fn run(ctx: &mut Ctx<'_>, text: &str) {
    let parts = split(text, 3);
    if parts.len() < 3 || parts[2].is_empty() {
        ctx.reply(replies::USAGE_REGISTER);
    } else {
        match names::check_new_account(parts[1], parts[2]) {
            Err(reason) => ctx.reply(&replies::refused(reason)),
            Ok(name) => register(ctx, name, parts[2].to_owned()).await,
        }
    }
    ctx.reply(ctx.shared.greeting());
}

async fn register(ctx: &Ctx<'_>, name: String, password: String) {
    let store = ctx.hub().store().clone();
    let (n, skeleton) = (name.clone(), names::skeleton(&name));
    let sk = skeleton.clone();
    match store.run(move |s| s.account_or_lookalike_exists(&n, &sk)).await {
        Ok(true) => return ctx.reply(replies::NAME_TAKEN),
        Ok(false) => {}
        Err(e) => return storage_failed(ctx, &e),
    }
    // Per-IP registration budget and the fair hashing queue: see `gate`.
    let hash = match gate::hash_new_password(ctx.shared, ctx.session.peer.ip(), password).await {
        Ok(Ok(h)) => h,
        Ok(Err(e)) => return storage_failed(ctx, &e),
        Err(refusal) => return ctx.reply(refusal),
    };
    match store.run(move |s| s.add_account_checked(&name, &skeleton, &hash)).await {
        Ok(true) => {
            crate::metrics::M.registrations.inc();
            ctx.reply(replies::REGISTERED)
        }
        Ok(false) => ctx.reply(replies::NAME_TAKEN),
        Err(e) => storage_failed(ctx, &e),
    }
}
