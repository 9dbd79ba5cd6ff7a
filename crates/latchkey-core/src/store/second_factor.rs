//! The second factor (`second_factors`), its recovery codes (`recovery_codes`) and the sign-ins
//! waiting for a code (`login_challenges`).

use sqlx::FromRow;

/// An account's authenticator secret and where it stands.
#[derive(Clone, FromRow)]
pub struct SecondFactorRow {
    pub secret: Vec<u8>,
    pub enabled_at: Option<i64>,
    pub last_step: i64,
}

/// Never printed: it holds the secret.
impl std::fmt::Debug for SecondFactorRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecondFactorRow")
            .field("enabled_at", &self.enabled_at)
            .field("last_step", &self.last_step)
            .finish()
    }
}

/// A sign-in waiting for its second factor.
#[derive(Debug, Clone, FromRow)]
pub struct ChallengeRow {
    pub user_id: i64,
    pub password_hash: String,
}

/// What proves the second factor: an authenticator code's step, or a recovery code's hash.
#[derive(Debug, Clone, Copy)]
pub enum Proof<'a> {
    Step(i64),
    Recovery(&'a [u8]),
}

/// A change to an account's second factor, made only with a proof (see `Proof`).
#[derive(Debug, Clone, Copy)]
pub enum FactorChange<'a> {
    /// The enrolment's first right code: on, with these recovery codes (their hashes).
    TurnOn(&'a [[u8; 32]]),
    TurnOff,
    /// New recovery codes in place of the old.
    NewRecoveryCodes(&'a [[u8; 32]]),
}

/// How a second-factor sign-in ended.
#[derive(Debug, Clone)]
pub enum SecondFactorSignIn {
    Done(crate::store::SignedInRow),
    /// The code is not right, or its step was used already (nothing written).
    WrongCode,
    /// The challenge is used or expired, or the account changed since the password check.
    Stale,
}

/// Binds $1 account, $2 secret, $3 now. A new enrolment replaces one still waiting, never one
/// that is on.
pub(crate) const START: &str = "INSERT INTO second_factors (user_id, secret, created_at) VALUES ($1, $2, $3)
     ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, created_at = excluded.created_at, last_step = 0
     WHERE second_factors.enabled_at IS NULL";

pub(crate) const FIND: &str = "SELECT secret, enabled_at, last_step FROM second_factors WHERE user_id = $1";

/// Claims an authenticator step: only a later one than any accepted. Binds $1 account, $2 step,
/// $3 whether the factor must be on (true) or waiting for its first code (false).
pub(crate) const CLAIM_STEP: &str = "UPDATE second_factors SET last_step = $2
     WHERE user_id = $1 AND last_step < $2 AND (enabled_at IS NOT NULL) = $3";

/// Binds $1 account, $2 now.
pub(crate) const ENABLE: &str = "UPDATE second_factors SET enabled_at = $2 WHERE user_id = $1 AND enabled_at IS NULL";

/// Binds $1 account, $2 code hash: one use, whoever asks at the same moment.
pub(crate) const USE_RECOVERY: &str = "DELETE FROM recovery_codes WHERE user_id = $1 AND code_hash = $2";

pub(crate) const CLEAR_RECOVERY: &str = "DELETE FROM recovery_codes WHERE user_id = $1";

pub(crate) const ADD_RECOVERY: &str = "INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)";

pub(crate) const REMOVE: &str = "DELETE FROM second_factors WHERE user_id = $1";

/// Binds $1 challenge hash, $2 account, $3 password hash, $4 expiry.
pub(crate) const ADD_CHALLENGE: &str =
    "INSERT INTO login_challenges (challenge_hash, user_id, password_hash, expires_at) VALUES ($1, $2, $3, $4)";

/// Binds $1 challenge hash, $2 now.
pub(crate) const FIND_CHALLENGE: &str =
    "SELECT user_id, password_hash FROM login_challenges WHERE challenge_hash = $1 AND expires_at > $2";

/// One challenge, one sign-in. Binds $1 challenge hash.
pub(crate) const USE_CHALLENGE: &str = "DELETE FROM login_challenges WHERE challenge_hash = $1";

pub(crate) const DELETE_EXPIRED_CHALLENGES: &str = "DELETE FROM login_challenges WHERE expires_at <= $1";
