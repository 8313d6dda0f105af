//! `/register NAME PASSWORD` (before login).

use super::args::{words, Usage};
use super::ctx::Ctx;
use crate::{gate, names, replies};

/// `/register NAME PASSWORD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Register<'a> {
    /// Account name (checked when applied).
    pub name: &'a str,
    /// Password (may hold spaces).
    pub password: &'a str,
}

impl<'a> Register<'a> {
    /// Parses `/register NAME PASSWORD`; the name is checked when applied.
    pub fn parse(text: &'a str) -> Result<Self, Usage> {
        match words::<3>(text) {
            [_, Some(name), Some(password)] if !password.is_empty() => Ok(Register { name, password }),
            _ => Err(Usage::then_greet(replies::USAGE_REGISTER)),
        }
    }

    /// Registers an account; always ends with the greeting.
    pub async fn apply(self, ctx: &mut Ctx<'_>) {
        match names::check_new_account(self.name, self.password) {
            Err(reason) => ctx.reply(&replies::refused(reason)),
            Ok(name) => register(ctx, name, self.password.to_owned()).await,
        }
        ctx.reply(ctx.shared.greeting());
    }
}

async fn register(ctx: &Ctx<'_>, name: String, password: String) {
    let store = ctx.hub().store().clone();
    let (n, skeleton) = (name.clone(), names::skeleton(&name));
    let sk = skeleton.clone();
    match store.run(move |s| s.account_or_lookalike_exists(&n, &sk)).await {
        Ok(true) => return ctx.reply(replies::NAME_TAKEN),
        Ok(false) => {}
        Err(e) => return ctx.storage_failed(&e),
    }
    // Per-IP registration budget and the fair hashing queue: see `gate`.
    let hash = match gate::hash_new_password(ctx.shared, ctx.session.peer.ip(), password).await {
        Ok(Ok(h)) => h,
        Ok(Err(e)) => return ctx.storage_failed(&e),
        Err(refusal) => return ctx.reply(refusal),
    };
    match store.run(move |s| s.add_account_checked(&name, &skeleton, &hash)).await {
        Ok(true) => {
            crate::metrics::M.registrations.inc();
            ctx.reply(replies::REGISTERED)
        }
        Ok(false) => ctx.reply(replies::NAME_TAKEN),
        Err(e) => ctx.storage_failed(&e),
    }
}
