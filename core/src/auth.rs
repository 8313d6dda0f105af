//! argon2id hashing and verification on a fixed, small set of dedicated
//! threads, fair between client IPs and bounded in memory.
//!
//! - Fair: each IP has its own queue and the threads serve the queues round-robin,
//!   so one address sending many logins delays someone else by about one hash.
//! - Bounded: each IP and the whole server have a queue limit; past it a request
//!   is refused at once ([`Busy`]).
//! - Flat memory: each thread allocates its argon2 memory block once and reuses it
//!   (freed 19 MiB buffers otherwise pile up in allocator arenas).
//! - No enumeration: an unknown account is checked against a dummy hash made with
//!   the same parameters, so both cost the same time.

use crate::config::AuthConfig;
use argon2::password_hash::{rand_core::OsRng, Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Condvar, Mutex};
use tokio::sync::oneshot;

/// The hashing queues are full (for this IP or in total).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

enum Work {
    Hash(String),
    /// Stored PHC string (or the dummy), candidate password.
    Verify(Option<String>, String),
}

enum Done {
    Hashed(Result<String, String>),
    Verified(bool),
}

struct Job {
    work: Work,
    reply: oneshot::Sender<Done>,
}

#[derive(Default)]
struct Queues {
    per_ip: HashMap<IpAddr, VecDeque<Job>>,
    /// IPs with waiting jobs, in serving order.
    turn: VecDeque<IpAddr>,
    total: usize,
}

struct Pool {
    queues: Mutex<Queues>,
    ready: Condvar,
    per_ip: usize,
    total: usize,
    params: Params,
    dummy: String,
}

/// Hashes and verifies passwords; cheap to clone.
#[derive(Clone)]
pub struct Auth {
    pool: Arc<Pool>,
}

fn argon(params: Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

impl Auth {
    /// Builds the hasher from `[auth]` and starts its threads.
    pub fn new(cfg: &AuthConfig) -> Result<Auth, String> {
        let params =
            Params::new(cfg.argon2_memory_kib, cfg.argon2_iterations, 1, None).map_err(|e| format!("[auth]: {e}"))?;
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        let threads = if cfg.max_concurrent_hashes == 0 { (cores / 2).max(1) } else { cfg.max_concurrent_hashes };
        let dummy = hash_with(&params, &mut Vec::new(), SaltString::generate(&mut OsRng).as_ref())?;
        let pool = Arc::new(Pool {
            queues: Mutex::default(),
            ready: Condvar::new(),
            per_ip: cfg.max_queued_hashes_per_ip.max(1),
            total: cfg.max_queued_hashes.max(1),
            params,
            dummy,
        });
        for i in 0..threads {
            let p = pool.clone();
            std::thread::Builder::new()
                .name(format!("dmconnect-hash-{i}"))
                .spawn(move || worker(&p))
                .map_err(|e| format!("cannot start a hashing thread: {e}"))?;
        }
        Ok(Auth { pool })
    }

    /// Hashes a new password on the calling thread (CLI and tests).
    pub fn hash_blocking(&self, password: &str) -> Result<String, String> {
        hash_with(&self.pool.params, &mut Vec::new(), password)
    }

    /// Hashes a new password on the hashing threads, queued under `ip`.
    pub async fn hash(&self, ip: IpAddr, password: String) -> Result<Result<String, String>, Busy> {
        match self.submit(ip, Work::Hash(password)).await? {
            Done::Hashed(r) => Ok(r),
            Done::Verified(_) => Ok(Err("unexpected answer".into())),
        }
    }

    /// Checks one candidate against a stored hash; `None` checks against the dummy
    /// (same cost) and is always false. Exactly one argon2 run per call.
    pub async fn verify(&self, ip: IpAddr, stored: Option<String>, candidate: String) -> Result<bool, Busy> {
        match self.submit(ip, Work::Verify(stored, candidate)).await? {
            Done::Verified(ok) => Ok(ok),
            Done::Hashed(_) => Ok(false),
        }
    }

    async fn submit(&self, ip: IpAddr, work: Work) -> Result<Done, Busy> {
        let ip = crate::limits::client_key(ip);
        let (tx, rx) = oneshot::channel();
        {
            let mut q = self.pool.queues.lock().unwrap_or_else(|p| p.into_inner());
            let mine = q.per_ip.get(&ip).map_or(0, VecDeque::len);
            if mine >= self.pool.per_ip || q.total >= self.pool.total {
                return Err(Busy);
            }
            if mine == 0 {
                q.turn.push_back(ip);
            }
            q.per_ip.entry(ip).or_default().push_back(Job { work, reply: tx });
            q.total += 1;
        }
        self.pool.ready.notify_one();
        rx.await.map_err(|_| Busy)
    }
}

fn worker(pool: &Pool) {
    // Allocated on the first job, then reused for every hash this thread runs.
    let mut memory: Vec<Block> = Vec::new();
    loop {
        let job = {
            let mut q = pool.queues.lock().unwrap_or_else(|p| p.into_inner());
            loop {
                if let Some(job) = next_job(&mut q) {
                    break job;
                }
                q = pool.ready.wait(q).unwrap_or_else(|p| p.into_inner());
            }
        };
        let done = match job.work {
            Work::Hash(pw) => Done::Hashed(hash_with(&pool.params, &mut memory, &pw)),
            Work::Verify(stored, pw) => {
                let real = stored.is_some();
                let hash = stored.as_deref().unwrap_or(&pool.dummy);
                Done::Verified(verify_with(hash, &mut memory, &pw) && real)
            }
        };
        let _ = job.reply.send(done);
    }
}

/// Round-robin: the IP at the front gives one job and goes to the back if it has more.
fn next_job(q: &mut Queues) -> Option<Job> {
    let ip = q.turn.pop_front()?;
    let queue = q.per_ip.get_mut(&ip)?;
    let job = queue.pop_front()?;
    if queue.is_empty() {
        q.per_ip.remove(&ip);
    } else {
        q.turn.push_back(ip);
    }
    q.total -= 1;
    Some(job)
}

fn run_argon(
    argon: &Argon2<'_>,
    params: &Params,
    memory: &mut Vec<Block>,
    pw: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), String> {
    if memory.len() < params.block_count() {
        *memory = vec![Block::default(); params.block_count()];
    }
    argon.hash_password_into_with_memory(pw, salt, out, &mut memory[..]).map_err(|e| e.to_string())
}

/// A new PHC string for `pw` with a fresh salt.
fn hash_with(params: &Params, memory: &mut Vec<Block>, pw: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    let mut raw_salt = [0u8; 64];
    let raw_salt = salt.as_salt().decode_b64(&mut raw_salt).map_err(|e| e.to_string())?;
    let mut out = [0u8; 32];
    run_argon(&argon(params.clone()), params, memory, pw.as_bytes(), raw_salt, &mut out)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(|e| e.to_string())?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| e.to_string())?),
    };
    Ok(phc.to_string())
}

/// Checks `pw` against a PHC string; the cost comes from the string itself.
fn verify_with(stored: &str, memory: &mut Vec<Block>, pw: &str) -> bool {
    let Ok(phc) = PasswordHash::new(stored) else { return false };
    let (Some(salt), Some(expected)) = (phc.salt, phc.hash) else { return false };
    let Ok(algorithm) = Algorithm::try_from(phc.algorithm) else { return false };
    let version = phc.version.and_then(|v| Version::try_from(v).ok()).unwrap_or_default();
    let Ok(params) = Params::try_from(&phc) else { return false };
    let mut raw_salt = [0u8; 64];
    let Ok(raw_salt) = salt.decode_b64(&mut raw_salt) else { return false };
    let mut out = vec![0u8; expected.len()];
    let argon = Argon2::new(algorithm, version, params.clone());
    if run_argon(&argon, &params, memory, pw.as_bytes(), raw_salt, &mut out).is_err() {
        return false;
    }
    // `Output` compares in constant time.
    Output::new(&out).is_ok_and(|o| o == expected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::PasswordVerifier;

    fn cfg() -> AuthConfig {
        AuthConfig { argon2_memory_kib: 64, argon2_iterations: 1, max_concurrent_hashes: 1, ..Default::default() }
    }

    #[tokio::test]
    async fn hash_verify_and_dummy() {
        let auth = Auth::new(&cfg()).unwrap();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let h = auth.hash(ip, "pw".into()).await.unwrap().unwrap();
        // Compatible with the argon2 crate's own verifier (existing databases).
        let parsed = PasswordHash::new(&h).unwrap();
        assert!(Argon2::default().verify_password(b"pw", &parsed).is_ok());
        assert_eq!(auth.verify(ip, Some(h.clone()), "pw".into()).await, Ok(true));
        assert_eq!(auth.verify(ip, Some(h), "px".into()).await, Ok(false));
        assert_eq!(auth.verify(ip, None, "pw".into()).await, Ok(false));
        let old = auth.hash_blocking("old").unwrap();
        assert_eq!(auth.verify(ip, Some(old), "old".into()).await, Ok(true));
    }

    #[test]
    fn queues_are_served_round_robin() {
        let mut q = Queues::default();
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        for (ip, n) in [(a, 3), (b, 1)] {
            for _ in 0..n {
                let (tx, _rx) = oneshot::channel();
                if !q.per_ip.contains_key(&ip) {
                    q.turn.push_back(ip);
                }
                q.per_ip.entry(ip).or_default().push_back(Job { work: Work::Hash(ip.to_string()), reply: tx });
                q.total += 1;
            }
        }
        let order: Vec<String> = std::iter::from_fn(|| next_job(&mut q))
            .map(|j| match j.work {
                Work::Hash(s) => s,
                Work::Verify(..) => unreachable!(),
            })
            .collect();
        assert_eq!(order, ["10.0.0.1", "10.0.0.2", "10.0.0.1", "10.0.0.1"]);
        assert_eq!(q.total, 0);
    }
}
