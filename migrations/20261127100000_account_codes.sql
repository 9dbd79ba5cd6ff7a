-- Codes for an existing account's life: a password reset (asked for by address, signed out) and an
-- email change (asked for by a signed-in account, sent to the new address). Like pending sign-ups,
-- only the code's argon2id hash is kept.
CREATE TABLE account_codes (
    id           INTEGER PRIMARY KEY,
    purpose      TEXT    NOT NULL CHECK (purpose IN ('password_reset', 'email_change')),
    -- password_reset: NULL when no account has the address, so that such a request looks and costs
    -- the same as a real one; email_change: the account changing its address.
    user_id      INTEGER REFERENCES users (id) ON DELETE CASCADE,
    -- password_reset: the address asked for; email_change: the new address (both as keys).
    email_key    TEXT    NOT NULL,
    -- email_change: the new address as typed.
    new_email    TEXT,
    code_hash    TEXT    NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    last_sent_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    CHECK (purpose = 'password_reset' OR (user_id IS NOT NULL AND new_email IS NOT NULL))
);
-- One reset in progress per address, one email change per account.
CREATE UNIQUE INDEX account_codes_reset ON account_codes (email_key) WHERE purpose = 'password_reset';
CREATE UNIQUE INDEX account_codes_email_change ON account_codes (user_id) WHERE purpose = 'email_change';
CREATE INDEX account_codes_user_id ON account_codes (user_id);
CREATE INDEX account_codes_expires_at ON account_codes (expires_at);
