-- Ids are never handed out twice. Without AUTOINCREMENT, SQLite gives a new row the highest id
-- plus one, so deleting the newest account freed its id for the next sign-up, and a request that
-- had read the old account (then waited on argon2) could act on the new one. AUTOINCREMENT keeps
-- the highest id ever used in sqlite_sequence. SQLite cannot add it to a table, so each table
-- addressed by id is rebuilt with every row kept.
--
-- Migrations run in a transaction with foreign keys enforced, where dropping `users` would
-- cascade to the sessions and codes: the children are rebuilt first against `users_new`, the old
-- tables dropped children first, and renaming `users_new` to `users` rewrites the children's
-- references (SQLite >= 3.26).

CREATE TABLE users_new (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    username          TEXT    NOT NULL,
    username_key      TEXT    NOT NULL,
    email             TEXT    NOT NULL,
    email_key         TEXT    NOT NULL,
    password_hash     TEXT    NOT NULL,
    is_active         INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    is_admin          INTEGER NOT NULL DEFAULT 0 CHECK (is_admin IN (0, 1)),
    date_joined       INTEGER NOT NULL,
    username_skeleton TEXT
);
INSERT INTO users_new (id, username, username_key, email, email_key, password_hash, is_active, is_admin,
                       date_joined, username_skeleton)
SELECT id, username, username_key, email, email_key, password_hash, is_active, is_admin, date_joined,
       username_skeleton
FROM users;

CREATE TABLE sessions_new (
    token_hash BLOB    PRIMARY KEY CHECK (length(token_hash) = 32),
    user_id    INTEGER NOT NULL REFERENCES users_new (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO sessions_new (token_hash, user_id, created_at, expires_at)
SELECT token_hash, user_id, created_at, expires_at FROM sessions;

CREATE TABLE account_codes_new (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    purpose      TEXT    NOT NULL CHECK (purpose IN ('password_reset', 'email_change')),
    user_id      INTEGER REFERENCES users_new (id) ON DELETE CASCADE,
    email_key    TEXT    NOT NULL,
    new_email    TEXT,
    code_hash    TEXT    NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    last_sent_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    CHECK (purpose = 'password_reset' OR (user_id IS NOT NULL AND new_email IS NOT NULL))
);
INSERT INTO account_codes_new (id, purpose, user_id, email_key, new_email, code_hash, attempts, created_at,
                               last_sent_at, expires_at)
SELECT id, purpose, user_id, email_key, new_email, code_hash, attempts, created_at, last_sent_at, expires_at
FROM account_codes;

CREATE TABLE pending_signups_new (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT    NOT NULL,
    username_key  TEXT    NOT NULL,
    email         TEXT    NOT NULL,
    email_key     TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,
    code_hash     TEXT    NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    last_sent_at  INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    owner_hash    BLOB    NOT NULL DEFAULT x'' CHECK (length(owner_hash) IN (0, 32))
);
INSERT INTO pending_signups_new (id, username, username_key, email, email_key, password_hash, code_hash, attempts,
                                 created_at, last_sent_at, expires_at, owner_hash)
SELECT id, username, username_key, email, email_key, password_hash, code_hash, attempts, created_at, last_sent_at,
       expires_at, owner_hash
FROM pending_signups;

CREATE TABLE mail_sends_new (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    address_key TEXT    NOT NULL,
    sent_at     INTEGER NOT NULL
);
INSERT INTO mail_sends_new (id, address_key, sent_at) SELECT id, address_key, sent_at FROM mail_sends;

-- Copying the rows set each table's sequence to its highest id: only ids freed before this
-- migration can still come back, once.
DROP TABLE sessions;
DROP TABLE account_codes;
DROP TABLE users;
DROP TABLE pending_signups;
DROP TABLE mail_sends;

ALTER TABLE users_new RENAME TO users;
ALTER TABLE sessions_new RENAME TO sessions;
ALTER TABLE account_codes_new RENAME TO account_codes;
ALTER TABLE pending_signups_new RENAME TO pending_signups;
ALTER TABLE mail_sends_new RENAME TO mail_sends;

CREATE UNIQUE INDEX users_username_key ON users (username_key);
CREATE UNIQUE INDEX users_email_key ON users (email_key);
CREATE UNIQUE INDEX users_username_skeleton ON users (username_skeleton);
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
CREATE UNIQUE INDEX account_codes_reset ON account_codes (email_key) WHERE purpose = 'password_reset';
CREATE UNIQUE INDEX account_codes_email_change ON account_codes (user_id) WHERE purpose = 'email_change';
CREATE INDEX account_codes_user_id ON account_codes (user_id);
CREATE INDEX account_codes_expires_at ON account_codes (expires_at);
CREATE UNIQUE INDEX pending_signups_owner_hash ON pending_signups (owner_hash);
CREATE INDEX pending_signups_username_key ON pending_signups (username_key);
CREATE INDEX pending_signups_email_key ON pending_signups (email_key);
CREATE INDEX pending_signups_expires_at ON pending_signups (expires_at);
CREATE INDEX mail_sends_address_key ON mail_sends (address_key, sent_at);
