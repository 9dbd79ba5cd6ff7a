-- The HTTP service's schema on PostgreSQL: the same tables and rules as the SQLite migrations one
-- folder up, as they stand after all of them (a PostgreSQL database starts here, with no history).
-- Timestamps are seconds since the Unix epoch, as the domain passes them.

-- Accounts. `username_key` and `email_key` are the normalised forms uniqueness is judged on;
-- look-alike names share a `username_skeleton` (UTS #39), and no two accounts may.
CREATE TABLE users (
    id                BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username          TEXT    NOT NULL,
    username_key      TEXT    NOT NULL,
    username_skeleton TEXT,
    email             TEXT    NOT NULL,
    email_key         TEXT    NOT NULL,
    password_hash     TEXT    NOT NULL,
    is_active         BOOLEAN NOT NULL DEFAULT TRUE,
    is_admin          BOOLEAN NOT NULL DEFAULT FALSE,
    date_joined       BIGINT  NOT NULL
);
-- The index names are what a unique violation is mapped by (store::map_user_conflict).
CREATE UNIQUE INDEX users_username_key ON users (username_key);
CREATE UNIQUE INDEX users_email_key ON users (email_key);
CREATE UNIQUE INDEX users_username_skeleton ON users (username_skeleton);

-- Sign-ups waiting for their emailed code: argon2id hashes of the password and the code, and the
-- SHA-256 of the sign-up id its owner holds. The first right code for an address gets the account.
CREATE TABLE pending_signups (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username      TEXT   NOT NULL,
    username_key  TEXT   NOT NULL,
    email         TEXT   NOT NULL,
    email_key     TEXT   NOT NULL,
    password_hash TEXT   NOT NULL,
    code_hash     TEXT   NOT NULL,
    owner_hash    BYTEA  NOT NULL CHECK (octet_length(owner_hash) = 32),
    attempts      BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL,
    last_sent_at  BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
);
CREATE UNIQUE INDEX pending_signups_owner_hash ON pending_signups (owner_hash);
CREATE INDEX pending_signups_username_key ON pending_signups (username_key);
CREATE INDEX pending_signups_email_key ON pending_signups (email_key);
CREATE INDEX pending_signups_expires_at ON pending_signups (expires_at);

-- Sessions: only the SHA-256 of the token.
CREATE TABLE sessions (
    token_hash BYTEA  PRIMARY KEY CHECK (octet_length(token_hash) = 32),
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- Consecutive failed logins per account (or per identifier no account has).
CREATE TABLE login_throttle (
    identifier_key TEXT   PRIMARY KEY,
    failures       BIGINT NOT NULL,
    locked_until   BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE INDEX login_throttle_updated_at ON login_throttle (updated_at);

-- Codes for an existing account's life: password resets (by address) and email changes (by account).
CREATE TABLE account_codes (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    purpose      TEXT   NOT NULL CHECK (purpose IN ('password_reset', 'email_change')),
    user_id      BIGINT REFERENCES users (id) ON DELETE CASCADE,
    email_key    TEXT   NOT NULL,
    new_email    TEXT,
    code_hash    TEXT   NOT NULL,
    attempts     BIGINT NOT NULL DEFAULT 0,
    created_at   BIGINT NOT NULL,
    last_sent_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    CHECK (purpose = 'password_reset' OR (user_id IS NOT NULL AND new_email IS NOT NULL))
);
CREATE UNIQUE INDEX account_codes_reset ON account_codes (email_key) WHERE purpose = 'password_reset';
CREATE UNIQUE INDEX account_codes_email_change ON account_codes (user_id) WHERE purpose = 'email_change';
CREATE INDEX account_codes_user_id ON account_codes (user_id);
CREATE INDEX account_codes_expires_at ON account_codes (expires_at);

-- Facts about this database.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO meta (key, value) VALUES ('install_id', replace(gen_random_uuid()::text, '-', ''));

-- Every code mail per address (at most one a minute and five an hour), kept for an hour.
CREATE TABLE mail_sends (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    address_key TEXT   NOT NULL,
    sent_at     BIGINT NOT NULL
);
CREATE INDEX mail_sends_address_key ON mail_sends (address_key, sent_at);

-- Requests per client address per minute, shared by every server process.
CREATE TABLE ip_requests (
    ip           TEXT   NOT NULL,
    window_start BIGINT NOT NULL,
    count        BIGINT NOT NULL,
    PRIMARY KEY (ip, window_start)
);
