-- Devices: as the SQLite migration of the same name.
ALTER TABLE sessions ADD COLUMN public_id TEXT;
ALTER TABLE sessions ADD COLUMN last_seen_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN device TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN ip TEXT;
UPDATE sessions SET public_id = replace(gen_random_uuid()::text, '-', ''), last_seen_at = created_at;
ALTER TABLE sessions ALTER COLUMN public_id SET NOT NULL;
CREATE UNIQUE INDEX sessions_public_id ON sessions (public_id);

CREATE TABLE ended_sessions (
    token_hash BYTEA  PRIMARY KEY CHECK (octet_length(token_hash) = 32),
    ended_at   BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX ended_sessions_expires_at ON ended_sessions (expires_at);
