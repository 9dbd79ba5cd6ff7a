-- Devices: each session gets a public id (random, never derived from the token), the time it
-- was last used, the device it was started on and the client's address (the service's; none on
-- the desktop). Sessions from before get an id and their start as their last use.
ALTER TABLE sessions ADD COLUMN public_id TEXT;
ALTER TABLE sessions ADD COLUMN last_seen_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN device TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN ip TEXT;
UPDATE sessions SET public_id = lower(hex(randomblob(16))), last_seen_at = created_at;
CREATE UNIQUE INDEX sessions_public_id ON sessions (public_id);

-- Sessions ended from another device, until they would have expired: the ended device's next
-- request can then say why it is signed out. Only the token's hash, as in `sessions`.
CREATE TABLE ended_sessions (
    token_hash BLOB    PRIMARY KEY CHECK (length(token_hash) = 32),
    ended_at   INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX ended_sessions_expires_at ON ended_sessions (expires_at);
