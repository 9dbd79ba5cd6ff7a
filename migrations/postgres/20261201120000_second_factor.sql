-- A second factor: as the SQLite migration of the same name.
CREATE TABLE second_factors (
    user_id    BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret     BYTEA  NOT NULL CHECK (octet_length(secret) = 20),
    created_at BIGINT NOT NULL,
    enabled_at BIGINT,
    last_step  BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE recovery_codes (
    user_id   BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash BYTEA  NOT NULL CHECK (octet_length(code_hash) = 32),
    PRIMARY KEY (user_id, code_hash)
);
CREATE TABLE login_challenges (
    challenge_hash BYTEA  PRIMARY KEY CHECK (octet_length(challenge_hash) = 32),
    user_id        BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    password_hash  TEXT   NOT NULL,
    expires_at     BIGINT NOT NULL
);
CREATE INDEX login_challenges_expires_at ON login_challenges (expires_at);
