//! Secrets: argon2id hashing for passwords and codes, codes and tokens from the OS CSPRNG.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::sync::Arc;
use std::time::{Duration, Instant};

use argon2::password_hash::{self, Output, ParamsString, PasswordHash, Salt, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
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

pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut bytes = [0u8; N];
    OsRng.try_fill_bytes(&mut bytes).map_err(|e| Error::internal("OS random number generator", e))?;
    Ok(bytes)
}

/// A PHC-format argon2id hash with a fresh 16-byte salt.
pub fn hash(secret: &str) -> Result<String> {
    let salt = SaltString::encode_b64(&random_bytes::<16>()?).map_err(|e| Error::internal("salt", e))?;
    let argon2 = argon2()?;
    let salt = salt.as_salt();
    let output = compute(&argon2, secret.as_bytes(), salt, Params::DEFAULT_OUTPUT_LEN)
        .map_err(|e| Error::internal("argon2", e))?;
    let params = ParamsString::try_from(argon2.params()).map_err(|e| Error::internal("argon2", e))?;
    let version = Some(Version::V0x13.into());
    let hash =
        PasswordHash { algorithm: Algorithm::Argon2id.ident(), version, params, salt: Some(salt), hash: Some(output) };
    Ok(hash.to_string())
}

/// Constant-time check (`Output`'s comparison is constant-time). The hash carries its own
/// algorithm, version and parameters, so older hashes keep verifying after a policy change.
pub fn verify(secret: &str, phc: &str) -> Result<bool> {
    #[cfg(test)]
    counted::verifying(phc);
    let parsed = PasswordHash::new(phc).map_err(|e| Error::internal("stored hash", e))?;
    // As the crate's own `verify_password`: a hash that cannot be checked does not match.
    let checked = || -> password_hash::Result<bool> {
        let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else { return Ok(false) };
        let version = parsed.version.map(Version::try_from).transpose()?.unwrap_or_default();
        let argon2 = Argon2::new(Algorithm::try_from(parsed.algorithm)?, version, Params::try_from(&parsed)?);
        Ok(compute(&argon2, secret.as_bytes(), salt, expected.len())? == expected)
    };
    Ok(checked().unwrap_or(false))
}

/// How long argon2's memory is kept after its last hash: a person who mistypes tries again within
/// seconds, and a busy service always has another hash waiting. Then it goes back, so an idle
/// desktop app holds none.
const KEEP_BLOCKS_FOR: Duration = Duration::from_secs(30);

/// argon2's memory (19 MiB of blocks) for reuse by the argon2 threads, one buffer for each hash
/// they run at once, so that a hash does not allocate and fault in fresh memory (2 to 6 ms a hash
/// on 2 cores, measured against the same hash in kept memory). argon2 writes every block before
/// it reads it, so what a buffer held before never counts.
#[derive(Default)]
struct Spare {
    blocks: Vec<Vec<Block>>,
    last_use: Option<Instant>,
}

impl Spare {
    /// A buffer of `count` blocks: a kept one, or a new one.
    fn take(&mut self, count: usize) -> Vec<Block> {
        match self.blocks.pop() {
            Some(blocks) if blocks.len() == count => blocks,
            _ => vec![Block::default(); count],
        }
    }

    fn give_back(&mut self, blocks: Vec<Block>, now: Instant) {
        self.blocks.push(blocks);
        self.last_use = Some(now);
    }

    /// Frees what is kept once no hash has used it for `KEEP_BLOCKS_FOR`; how many buffers went.
    fn release_if_idle(&mut self, now: Instant) -> usize {
        match self.last_use {
            Some(at) if now.saturating_duration_since(at) < KEEP_BLOCKS_FOR => 0,
            _ => std::mem::take(&mut self.blocks).len(),
        }
    }
}

static SPARE: std::sync::Mutex<Spare> = std::sync::Mutex::new(Spare { blocks: Vec::new(), last_use: None });

thread_local! {
    /// Set on the argon2 threads, which share the kept memory; any other thread hashing (a test,
    /// a tool) allocates its own and frees it.
    static POOLED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The argon2 output of `len` bytes for `password` and `salt`.
fn compute(argon2: &Argon2<'_>, password: &[u8], salt: Salt<'_>, len: usize) -> password_hash::Result<Output> {
    let mut salt_bytes = [0u8; Salt::MAX_LENGTH];
    let salt = salt.decode_b64(&mut salt_bytes)?;
    let count = argon2.params().block_count();
    let pooled = POOLED.get();
    let kept = if pooled { SPARE.lock().ok().map(|mut spare| spare.take(count)) } else { None };
    let mut blocks = kept.unwrap_or_else(|| vec![Block::default(); count]);
    let output = Output::init_with(len, |out| {
        Ok(argon2.hash_password_into_with_memory(password, salt, out, &mut blocks[..])?)
    });
    if pooled {
        if let Ok(mut spare) = SPARE.lock() {
            spare.give_back(blocks, Instant::now());
        }
    }
    output
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

/// About what one argon2 computation takes on one core (the bench measures 15–23 ms): the basis
/// of the wait a refused request is told.
const HASH_MS_ESTIMATE: u64 = 25;

/// The threads that run all argon2 work, and the places in their queue.
///
/// About one thread per core: more would not finish sooner, and since each computation takes
/// 19 MiB (kept for reuse, `Spare`), a fixed set of threads keeps the memory bounded however
/// many requests arrive at once (they queue instead). The queue has `bound` places: a job (or a
/// request admitted with [`admitted`]) takes one until it is done, and when none is free the work
/// is refused at once with [`Error::Busy`] instead of waiting behind more than the threads can
/// finish soon. A job whose requester has gone (its future dropped) is skipped, not computed.
struct Pool {
    jobs: std::sync::Mutex<std::sync::mpsc::Sender<Job>>,
    threads: usize,
    /// Places taken: jobs waiting or running, and admitted requests.
    taken: Arc<AtomicUsize>,
    bound: AtomicUsize,
    /// Jobs queued and not yet started by a thread.
    waiting: Arc<AtomicUsize>,
}

/// One place in the queue, given back when dropped.
struct Place(Arc<AtomicUsize>);

impl Drop for Place {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

tokio::task_local! {
    /// Set while a request admitted to the queue runs: its own hashing takes no second place.
    static ADMITTED: ();
}

impl Pool {
    fn new(threads: usize, bound: usize) -> Pool {
        let (sender, receiver) = std::sync::mpsc::channel::<Job>();
        let receiver = Arc::new(std::sync::Mutex::new(receiver));
        let waiting = Arc::new(AtomicUsize::new(0));
        for n in 0..threads {
            let receiver = receiver.clone();
            let spawned = std::thread::Builder::new().name(format!("argon2-{n}")).spawn(move || {
                POOLED.set(true);
                loop {
                    let job = match receiver.lock() {
                        Ok(queue) => queue.recv_timeout(KEEP_BLOCKS_FOR),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => job(),
                        // Idle: the kept memory goes back once unused for long enough.
                        Err(RecvTimeoutError::Timeout) => {
                            if let Ok(mut spare) = SPARE.lock() {
                                spare.release_if_idle(Instant::now());
                            }
                        }
                        Err(RecvTimeoutError::Disconnected) => return, // the process is ending
                    }
                }
            });
            if let Err(e) = spawned {
                log::error!("could not start an argon2 thread: {e}");
            }
        }
        Pool {
            jobs: std::sync::Mutex::new(sender),
            threads: threads.max(1),
            taken: Arc::new(AtomicUsize::new(0)),
            bound: AtomicUsize::new(bound),
            waiting,
        }
    }

    /// A free place, or `Busy` at once.
    fn place(&self) -> Result<Place> {
        let bound = self.bound.load(Ordering::Acquire);
        match self.taken.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < bound).then_some(n + 1)) {
            Ok(_) => Ok(Place(self.taken.clone())),
            Err(_) => Err(Error::Busy { seconds: self.retry_after(bound) }),
        }
    }

    /// How long the threads take to work through a full queue, in whole seconds (1 to 60).
    fn retry_after(&self, bound: usize) -> i64 {
        let ms = u64::try_from(bound).unwrap_or(u64::MAX).saturating_mul(HASH_MS_ESTIMATE) / self.threads as u64;
        i64::try_from(ms.div_ceil(1000)).unwrap_or(60).clamp(1, 60)
    }

    /// Queues `work` holding `place` (none: the request's own place covers it); the future waits
    /// for the result and gives the place back when it ends, answered or dropped.
    fn submit<T: Send + 'static>(
        &self,
        place: Option<Place>,
        work: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<impl std::future::Future<Output = Result<T>>> {
        let (reply, result) = tokio::sync::oneshot::channel();
        let (queued_at, waiting) = (std::time::Instant::now(), self.waiting.clone());
        waiting.fetch_add(1, Ordering::AcqRel);
        let job: Job = Box::new(move || {
            waiting.fetch_sub(1, Ordering::AcqRel);
            if let Some(watch) = WAIT_WATCH.read().ok().and_then(|w| w.clone()) {
                watch(queued_at.elapsed());
            }
            // Nobody waits for this answer any more (the client went away): no argon2 for nobody.
            if reply.is_closed() {
                return;
            }
            let _ = reply.send(work()); // the caller may have gone meanwhile; nothing to do then
        });
        let queued = self.jobs.lock().map_err(|_| Error::internal("argon2 threads", "poisoned"))?.send(job);
        queued.map_err(|e| Error::internal("argon2 threads", e))?;
        Ok(async move {
            let answer = result.await;
            drop(place);
            answer.map_err(|e| Error::internal("argon2 threads", e))?
        })
    }

    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
        let place = if ADMITTED.try_with(|_| ()).is_ok() { None } else { Some(self.place()?) };
        self.submit(place, work)?.await
    }

    async fn admit<F: std::future::Future>(&self, request: F) -> Result<F::Output> {
        let place = self.place()?;
        let answer = ADMITTED.scope((), request).await;
        drop(place);
        Ok(answer)
    }
}

static POOL: std::sync::OnceLock<Pool> = std::sync::OnceLock::new();
/// Told how long each job waited for a thread (the service's metrics). Per process, as the pool.
static WAIT_WATCH: std::sync::RwLock<Option<WaitWatch>> = std::sync::RwLock::new(None);

pub type WaitWatch = Arc<dyn Fn(std::time::Duration) + Send + Sync>;
/// The thread count [`set_threads`] chose; 0: one per core.
static THREADS: AtomicUsize = AtomicUsize::new(0);

/// The process's argon2 threads, started at the first hash. Unbounded until [`set_queue_bound`]
/// says otherwise: the desktop app's only requester is the person at its window, whose clicks
/// should wait their turn rather than fail.
fn pool() -> &'static Pool {
    POOL.get_or_init(|| Pool::new(threads(), usize::MAX))
}

/// How many argon2 threads the process runs: as [`set_threads`] chose, else one per core.
pub fn threads() -> usize {
    match THREADS.load(Ordering::Acquire) {
        0 => std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get),
        n => n,
    }
}

/// Sets the argon2 thread count (the service's `LATCHKEY_ARGON2_THREADS`: fewer threads bound a
/// process's memory, 19 MiB each). Only before the first hash: the threads are started then, once.
pub fn set_threads(n: usize) -> std::result::Result<(), String> {
    if POOL.get().is_some() {
        return Err("the argon2 threads have already started".into());
    }
    THREADS.store(n.max(1), Ordering::Release);
    Ok(())
}

/// How many places argon2's queue has in this process (the service's `LATCHKEY_HASH_QUEUE`).
pub fn set_queue_bound(places: usize) {
    pool().bound.store(places.max(1), Ordering::Release);
}

/// Tells `watch` how long each argon2 job waits for a thread, from now on (the last one set wins,
/// as for the queue's places).
pub fn watch_waits(watch: WaitWatch) {
    if let Ok(mut slot) = WAIT_WATCH.write() {
        *slot = Some(watch);
    }
}

/// Argon2 jobs queued and not yet started, now.
pub fn queue_length() -> usize {
    POOL.get().map_or(0, |p| p.waiting.load(Ordering::Acquire))
}

/// Places in argon2's queue taken now (requests admitted and jobs), and how many there are.
pub fn queue_places() -> (usize, usize) {
    POOL.get().map_or((0, 0), |p| (p.taken.load(Ordering::Acquire), p.bound.load(Ordering::Acquire)))
}

/// Runs argon2 work on the argon2 threads, never on the async workers (the window stays
/// responsive), and waits for its result; `Busy` at once when the queue is full.
pub async fn run_limited<T: Send + 'static>(work: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    pool().run(work).await
}

/// Runs a request that will hash, holding one place in argon2's queue from start to end, or
/// refuses it with `Busy` before it does anything. The service admits each request that hashes
/// this way, so a full queue turns it away before it spends a login attempt, a code attempt or a
/// mail slot, and its own hashing (one job at a time) is never refused halfway.
pub async fn admitted<F: std::future::Future>(request: F) -> Result<F::Output> {
    pool().admit(request).await
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

/// A session's public id: 128 random bits, URL-safe, unrelated to its token.
pub fn public_id() -> Result<String> {
    Ok(Base64UrlUnpadded::encode_string(&random_bytes::<16>()?))
}

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

/// Which stored hashes `verify` was asked about in this test process, so a test can count the
/// argon2 work one request does on its own rows while other tests hash in parallel.
#[cfg(test)]
pub(crate) mod counted {
    use std::collections::HashMap;
    use std::sync::Mutex;

    static VERIFIED: Mutex<Option<HashMap<String, usize>>> = Mutex::new(None);

    pub(crate) fn verifying(phc: &str) {
        let mut seen = VERIFIED.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *seen.get_or_insert_with(HashMap::new).entry(phc.to_string()).or_default() += 1;
    }

    /// How many times `verify` checked a secret against this stored hash.
    pub(crate) fn times_verified(phc: &str) -> usize {
        let seen = VERIFIED.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        seen.as_ref().and_then(|m| m.get(phc)).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use std::pin::{pin, Pin};
    use std::task::{Context, Poll, Waker};

    use super::*;
    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

    #[test]
    fn hashes_in_kept_memory_match_the_crates_own_and_a_used_buffer_changes_nothing() {
        // As on an argon2 thread: the blocks are kept from one hash to the next.
        POOLED.set(true);
        let ours = hash("correct horse battery staple").unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default().verify_password(b"correct horse battery staple", &parsed).is_ok());
        assert!(Argon2::default().verify_password(b"correct horse battery stapler", &parsed).is_err());
        let salt = SaltString::encode_b64(b"sixteen byte slt").unwrap();
        let theirs = argon2().unwrap().hash_password(b"violet tundra marble", &salt).unwrap().to_string();
        assert!(ours.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{ours}");
        for _ in 0..2 {
            assert!(verify("violet tundra marble", &theirs).unwrap());
            assert!(!verify("violet tundra marbles", &theirs).unwrap());
            assert!(verify("correct horse battery staple", &ours).unwrap());
        }
        POOLED.set(false);
        assert!(verify("violet tundra marble", &theirs).unwrap());
        // A hash that cannot be checked does not match, as with the crate's own check.
        let saltless = "$argon2id$v=19$m=19456,t=2,p=1";
        assert!(!verify("x", saltless).unwrap_or(false));
    }

    #[test]
    fn kept_memory_is_reused_and_goes_back_after_it_has_been_idle_long_enough() {
        let (mut spare, count, t0) = (Spare::default(), 8, Instant::now());
        let mut first = spare.take(count);
        first[3] = Block::new();
        let address = first.as_ptr();
        spare.give_back(first, t0);
        let again = spare.take(count);
        assert_eq!(again.as_ptr(), address, "the same memory, not a new allocation");
        assert_eq!(spare.take(count).len(), count, "a second hash at once gets its own");
        spare.give_back(again, t0);
        assert_eq!(spare.take(count + 1).len(), count + 1, "other parameters: a buffer of their size");
        let other = spare.take(count);
        spare.give_back(other, t0);
        assert_eq!(spare.release_if_idle(t0 + KEEP_BLOCKS_FOR - Duration::from_millis(1)), 0, "still in use");
        assert_eq!(spare.release_if_idle(t0 + KEEP_BLOCKS_FOR), 1, "idle long enough: given back");
        assert!(spare.blocks.is_empty());
    }

    #[tokio::test]
    async fn the_thread_count_is_fixed_once_the_threads_have_started() {
        run_limited(|| Ok(())).await.unwrap();
        assert!(set_threads(1).is_err(), "too late: the threads run");
        assert!(threads() >= 1);
    }

    /// Polls once: whether the future finished without waiting.
    fn poll_once<F: std::future::Future + ?Sized>(future: Pin<&mut F>) -> Poll<F::Output> {
        future.poll(&mut Context::from_waker(Waker::noop()))
    }

    /// A job that holds its thread until `open` is sent (or dropped).
    fn gate() -> (std::sync::mpsc::Sender<()>, impl FnOnce() -> Result<&'static str> + Send + 'static) {
        let (open, gate) = std::sync::mpsc::channel::<()>();
        (open, move || {
            let _ = gate.recv();
            Ok("held")
        })
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once_and_its_places_free_up_as_jobs_finish() {
        let pool = Pool::new(1, 2);
        let (open, held_job) = gate();
        let mut held = pin!(pool.run(held_job));
        let mut waiting = pin!(pool.run(|| Ok("waiting")));
        assert!(poll_once(held.as_mut()).is_pending() && poll_once(waiting.as_mut()).is_pending());

        // Both places are taken: a third job, or a request asking to be admitted, is refused
        // without waiting for anything.
        match poll_once(pin!(pool.run(|| Ok("third")))) {
            Poll::Ready(Err(e @ Error::Busy { .. })) => {
                let json = serde_json::to_value(&e).unwrap();
                assert_eq!((json["code"].as_str(), json["retry_after"].as_i64()), (Some("server_busy"), Some(1)));
            }
            Poll::Ready(other) => panic!("expected server_busy, got {other:?}"),
            Poll::Pending => panic!("the third job was queued instead of refused"),
        }
        assert!(matches!(poll_once(pin!(pool.admit(async {}))), Poll::Ready(Err(Error::Busy { .. }))));

        open.send(()).unwrap();
        assert_eq!(held.await.unwrap(), "held");
        assert_eq!(waiting.await.unwrap(), "waiting");
        assert_eq!(pool.taken.load(Ordering::SeqCst), 0);
        assert_eq!(pool.run(|| Ok("again")).await.unwrap(), "again", "the places are free again");
    }

    #[tokio::test]
    async fn a_job_whose_requester_has_gone_is_skipped() {
        let pool = Pool::new(1, 10);
        let runs = Arc::new(AtomicUsize::new(0));
        let (open, held_job) = gate();
        let mut held = pin!(pool.run(held_job));
        assert!(poll_once(held.as_mut()).is_pending());
        let counted = runs.clone();
        let mut abandoned = Box::pin(pool.run(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            hash("correct horse")
        }));
        assert!(poll_once(abandoned.as_mut()).is_pending(), "queued behind the held job");
        assert_eq!(pool.taken.load(Ordering::SeqCst), 2);
        drop(abandoned); // the client went away: axum drops the handler's future
        assert_eq!(pool.taken.load(Ordering::SeqCst), 1, "its place is given back at once");

        open.send(()).unwrap();
        held.await.unwrap();
        // One thread, first in first out: once a later job is answered, the abandoned one was reached.
        assert_eq!(pool.run(|| Ok("later")).await.unwrap(), "later");
        assert_eq!(runs.load(Ordering::SeqCst), 0, "the abandoned job did not run argon2");
    }

    #[tokio::test]
    async fn an_admitted_request_hashes_in_its_own_place() {
        let pool = Pool::new(1, 1);
        let answer = pool
            .admit(async {
                // The one place is this request's: another request is refused, its own jobs are not.
                assert!(matches!(pool.admit(async {}).await, Err(Error::Busy { .. })));
                let first = pool.run(|| Ok(1)).await?;
                let second = pool.run(|| Ok(2)).await?;
                Ok::<_, Error>(first + second)
            })
            .await;
        assert_eq!(answer.unwrap().unwrap(), 3);
        assert_eq!(pool.taken.load(Ordering::SeqCst), 0, "the place is given back with the answer");
    }

    #[test]
    fn the_wait_a_refusal_names_is_the_time_to_work_through_a_full_queue() {
        assert_eq!(Pool::new(1, 1).retry_after(1), 1, "at least a second");
        assert_eq!(Pool::new(2, 128).retry_after(128), 2, "128 places, 2 threads, 25 ms each: 1.6 s");
        assert_eq!(Pool::new(1, 1).retry_after(usize::MAX), 60, "at most a minute");
    }

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
