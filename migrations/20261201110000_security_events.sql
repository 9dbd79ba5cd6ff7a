-- Security activity: one append-only row per event on an account, written in the transaction of
-- the change it records. No foreign key: an account's deletion is itself an event, kept (without
-- the account's name) for the retention period; ids are never reused. Never a password, code or
-- token: the kind, the time, the device label, the client's address (the service's) and the
-- session's public id.
CREATE TABLE security_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    INTEGER NOT NULL,
    at         INTEGER NOT NULL,
    kind       TEXT    NOT NULL,
    device     TEXT,
    ip         TEXT,
    session_id TEXT
);
CREATE INDEX security_events_user_at ON security_events (user_id, at);
CREATE INDEX security_events_at ON security_events (at);

-- The devices and networks each account signed in from, and when last: a sign-in from a pair not
-- seen in 90 days is new and its owner is told.
CREATE TABLE known_devices (
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    device       TEXT    NOT NULL,
    network      TEXT    NOT NULL,
    last_seen_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, device, network)
) WITHOUT ROWID;
CREATE INDEX known_devices_last_seen_at ON known_devices (last_seen_at);
