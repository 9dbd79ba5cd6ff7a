-- A second factor: an authenticator app's secret (RFC 6238) and one-use recovery codes.
-- `enabled_at` is NULL while an enrolment waits for its first right code; `last_step` is the last
-- 30-second step a code was accepted for: a code is accepted only for a later step, claimed in
-- the transaction that starts the session, so no code works twice.
CREATE TABLE second_factors (
    user_id    INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret     BLOB    NOT NULL CHECK (length(secret) = 20),
    created_at INTEGER NOT NULL,
    enabled_at INTEGER,
    last_step  INTEGER NOT NULL DEFAULT 0
);
-- Only the SHA-256 of each recovery code (80 random bits); a used one is deleted.
CREATE TABLE recovery_codes (
    user_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash BLOB    NOT NULL CHECK (length(code_hash) = 32),
    PRIMARY KEY (user_id, code_hash)
) WITHOUT ROWID;
-- A right password for an account with a second factor: the attempt waits here (5 minutes) for
-- its code, bound to the account as the password check read it.
CREATE TABLE login_challenges (
    challenge_hash BLOB    PRIMARY KEY CHECK (length(challenge_hash) = 32),
    user_id        INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    password_hash  TEXT    NOT NULL,
    expires_at     INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX login_challenges_expires_at ON login_challenges (expires_at);
