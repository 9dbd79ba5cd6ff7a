-- Consecutive failed logins per identifier (normalised username or email, known or not), so the
-- lock-out survives a restart and says nothing about which accounts exist.
CREATE TABLE login_throttle (
    identifier_key TEXT    PRIMARY KEY,
    failures       INTEGER NOT NULL,
    locked_until   INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX login_throttle_updated_at ON login_throttle (updated_at);
