-- Security activity: as the SQLite migration of the same name.
CREATE TABLE security_events (
    id         BIGSERIAL PRIMARY KEY,
    user_id    BIGINT NOT NULL,
    at         BIGINT NOT NULL,
    kind       TEXT   NOT NULL,
    device     TEXT,
    ip         TEXT,
    session_id TEXT
);
CREATE INDEX security_events_user_at ON security_events (user_id, at);
CREATE INDEX security_events_at ON security_events (at);

CREATE TABLE known_devices (
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    device       TEXT   NOT NULL,
    network      TEXT   NOT NULL,
    last_seen_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, device, network)
);
CREATE INDEX known_devices_last_seen_at ON known_devices (last_seen_at);
