//! Secrets: argon2id hashing for passwords and codes, codes and tokens from the OS CSPRNG.

use std::fmt;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64ct::{Base64UrlUnpadded, Encoding};
use rand::rngs::OsRng;
use rand::TryRngCore;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The one argon2id policy: OWASP's minimum (19 MiB, 2 passes, 1 lane).
pub const ARGON2_M_COST_KIB: u32 = 19 * 1024;
pub const ARGON2_T_COST: u32 = 2;
pub const ARGON2_P_COST: u32 = 1;

fn argon2() -> Result<Argon2<'static>> {
    let params = Params::new(ARGON2_M_COST_KIB, ARGON2_T_COST, ARGON2_P_COST, None)
        .map_err(|e| Error::internal("argon2 parameters", e))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut bytes = [0u8; N];
    OsRng.try_fill_bytes(&mut bytes).map_err(|e| Error::internal("OS random number generator", e))?;
    Ok(bytes)
}

/// A PHC-format argon2id hash with a fresh 16-byte salt.
pub fn hash(secret: &str) -> Result<String> {
    let salt = SaltString::encode_b64(&random_bytes::<16>()?).map_err(|e| Error::internal("salt", e))?;
    let hash = argon2()?.hash_password(secret.as_bytes(), &salt).map_err(|e| Error::internal("argon2", e))?;
    Ok(hash.to_string())
}

/// Constant-time check (the argon2 crate compares outputs with `subtle`).
pub fn verify(secret: &str, phc: &str) -> Result<bool> {
    let parsed = PasswordHash::new(phc).map_err(|e| Error::internal("stored hash", e))?;
    // The hash carries its own parameters, so older hashes keep verifying after a policy change.
    Ok(Argon2::default().verify_password(secret.as_bytes(), &parsed).is_ok())
}

/// What an unknown user's password is checked against, so that a login for a missing account
/// does exactly the work of a real one. Made with the policy's parameters from a random password
/// nobody knows; a test keeps it in step with the policy.
pub const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$teN4pT73tPuY7N6gRkHCGw$i3XKK4JbIVKDCaFjOEcS3cJ/2eWZHgcj0gzgEoqnQ2I";

/// True when a stored hash was made with other parameters than today's policy, so the next
/// successful login should re-hash the password.
pub fn needs_rehash(phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else { return true };
    let Ok(params) = Params::try_from(&parsed) else { return true };
    parsed.algorithm != Algorithm::Argon2id.ident()
        || parsed.version != Some(Version::V0x13.into())
        || (params.m_cost(), params.t_cost(), params.p_cost()) != (ARGON2_M_COST_KIB, ARGON2_T_COST, ARGON2_P_COST)
}

type Job = Box<dyn FnOnce() + Send>;

/// The threads that run all argon2 work: about one per core. More would not finish sooner; and
/// since each computation takes 19 MiB from its thread's allocator, a fixed set of threads keeps
/// the memory bounded however many requests arrive at once (they queue instead).
fn argon2_workers() -> &'static std::sync::Mutex<std::sync::mpsc::Sender<Job>> {
    static WORKERS: std::sync::OnceLock<std::sync::Mutex<std::sync::mpsc::Sender<Job>>> = std::sync::OnceLock::new();
    WORKERS.get_or_init(|| {
        let (sender, receiver) = std::sync::mpsc::channel::<Job>();
        let receiver = std::sync::Arc::new(std::sync::Mutex::new(receiver));
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        for n in 0..cores {
            let receiver = receiver.clone();
            let spawned = std::thread::Builder::new().name(format!("argon2-{n}")).spawn(move || loop {
                let job = match receiver.lock() {
                    Ok(queue) => queue.recv(),
                    Err(_) => return,
                };
                match job {
                    Ok(job) => job(),
                    Err(_) => return, // the sender is gone: the process is ending
                }
            });
            if let Err(e) = spawned {
                log::error!("could not start an argon2 thread: {e}");
            }
        }
        std::sync::Mutex::new(sender)
    })
}

/// Runs argon2 work on the argon2 threads, never on the async workers (the window stays
/// responsive), and waits for its result.
pub async fn run_limited<T: Send + 'static>(work: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    let (reply, result) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        let _ = reply.send(work()); // the caller may have gone away; nothing to do then
    });
    let queued = argon2_workers().lock().map_err(|_| Error::internal("argon2 threads", "poisoned"))?.send(job);
    queued.map_err(|e| Error::internal("argon2 threads", e))?;
    result.await.map_err(|e| Error::internal("argon2 threads", e))?
}

pub async fn hash_blocking(secret: String) -> Result<String> {
    run_limited(move || hash(&secret)).await
}

pub async fn verify_blocking(secret: String, phc: String) -> Result<bool> {
    run_limited(move || verify(&secret, &phc)).await
}

/// A uniformly distributed 6-digit code (rejection sampling avoids modulo bias).
pub fn new_code() -> Result<String> {
    const RANGE: u32 = 1_000_000;
    const LIMIT: u32 = u32::MAX - (u32::MAX % RANGE);
    loop {
        let n = u32::from_le_bytes(random_bytes::<4>()?);
        if n < LIMIT {
            return Ok(format!("{:06}", n % RANGE));
        }
    }
}

/// A session token: 32 random bytes, base64url. Its `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    pub fn generate() -> Result<Self> {
        Ok(Token(Base64UrlUnpadded::encode_string(&random_bytes::<32>()?)))
    }

    pub fn from_stored(value: String) -> Self {
        Token(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What the database keeps: a plain SHA-256 suffices for 256 bits of randomness.
    pub fn digest(&self) -> [u8; 32] {
        Sha256::digest(self.0.as_bytes()).into()
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_with_the_policy_parameters_and_verify() {
        let h = hash("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify("correct horse", &h).unwrap());
        assert!(!verify("correct horsf", &h).unwrap());
        // Salted: the same secret hashes differently each time.
        assert_ne!(h, hash("correct horse").unwrap());
    }

    #[test]
    fn hashes_with_other_parameters_need_a_rehash() {
        assert!(!needs_rehash(&hash("pw").unwrap()));
        let weak = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(4096, 1, 1, None).unwrap());
        let salt = SaltString::encode_b64(&[1; 16]).unwrap();
        let old = weak.hash_password(b"pw", &salt).unwrap().to_string();
        assert!(needs_rehash(&old));
        assert!(verify("pw", &old).unwrap(), "old hashes still verify");
        let argon2i = Argon2::new(Algorithm::Argon2i, Version::V0x13, Params::default());
        assert!(needs_rehash(&argon2i.hash_password(b"pw", &salt).unwrap().to_string()));
    }

    #[test]
    fn the_dummy_hash_follows_the_policy() {
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
        assert!(!needs_rehash(DUMMY_HASH));
        assert!(!verify("correct horse battery", DUMMY_HASH).unwrap());
    }

    #[test]
    #[ignore = "prints a new DUMMY_HASH"]
    fn print_a_new_dummy_hash() {
        let password = Base64UrlUnpadded::encode_string(&random_bytes::<32>().unwrap());
        println!("{}", hash(&password).unwrap());
    }

    #[test]
    fn codes_are_six_digits_and_vary() {
        let codes: Vec<String> = (0..50).map(|_| new_code().unwrap()).collect();
        assert!(codes.iter().all(|c| c.len() == 6 && c.chars().all(|d| d.is_ascii_digit())));
        let distinct: std::collections::HashSet<_> = codes.iter().collect();
        assert!(distinct.len() > 40);
    }

    #[test]
    fn tokens_are_32_random_bytes_and_debug_is_redacted() {
        let t = Token::generate().unwrap();
        assert_eq!(Base64UrlUnpadded::decode_vec(t.expose()).unwrap().len(), 32);
        assert_ne!(t, Token::generate().unwrap());
        assert!(!format!("{t:?}").contains(t.expose()));
        assert_eq!(t.digest(), Token::from_stored(t.expose().to_string()).digest());
    }
}
