//! argon2id hashing and verification, on the blocking pool and limited in
//! concurrency so a login storm cannot take every core away from chat.

use crate::config::AuthConfig;
use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Hashes and verifies passwords.
#[derive(Clone)]
pub struct Auth {
    params: Params,
    slots: Arc<Semaphore>,
}

impl Auth {
    /// Builds the hasher from `[auth]`.
    pub fn new(cfg: &AuthConfig) -> Result<Auth, String> {
        let params =
            Params::new(cfg.argon2_memory_kib, cfg.argon2_iterations, 1, None).map_err(|e| format!("[auth]: {e}"))?;
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        let slots = if cfg.max_concurrent_hashes == 0 { (cores / 2).max(1) } else { cfg.max_concurrent_hashes };
        Ok(Auth { params, slots: Arc::new(Semaphore::new(slots)) })
    }

    fn argon(params: Params) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
    }

    /// Hashes a new password (blocking; for the CLI and tests).
    pub fn hash_blocking(&self, password: &str) -> Result<String, String> {
        let salt = SaltString::generate(&mut OsRng);
        Self::argon(self.params.clone())
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| e.to_string())
    }

    /// Hashes a new password off the async threads.
    pub async fn hash(&self, password: String) -> Result<String, String> {
        let _slot = self.slots.acquire().await.map_err(|e| e.to_string())?;
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.hash_blocking(&password)).await.map_err(|e| e.to_string())?
    }

    /// Checks each candidate against a stored hash (the cost parameters come from the hash itself).
    pub async fn verify(&self, hash: String, candidates: Vec<String>) -> bool {
        let Ok(_slot) = self.slots.acquire().await else { return false };
        tokio::task::spawn_blocking(move || {
            let Ok(parsed) = PasswordHash::new(&hash) else { return false };
            let argon = Argon2::default();
            candidates.iter().any(|c| argon.verify_password(c.as_bytes(), &parsed).is_ok())
        })
        .await
        .unwrap_or(false)
    }
}
