-- A pending sign-up belongs to whoever started it: the window holds a random sign-up id and the
-- row keeps only its SHA-256. Several people may now have a pending sign-up for one address or
-- name (the first to enter their code gets the account), so those indexes are no longer unique.
-- Rows from before this change have no owner and could never be verified: codes live 10 minutes,
-- so they are dropped.
DELETE FROM pending_signups;
DROP INDEX pending_signups_username_key;
DROP INDEX pending_signups_email_key;
ALTER TABLE pending_signups ADD COLUMN owner_hash BLOB NOT NULL DEFAULT x'' CHECK (length(owner_hash) IN (0, 32));
CREATE UNIQUE INDEX pending_signups_owner_hash ON pending_signups (owner_hash);
CREATE INDEX pending_signups_username_key ON pending_signups (username_key);
CREATE INDEX pending_signups_email_key ON pending_signups (email_key);

-- Every code mail, whatever started it (sign-up, resend, password reset, email change), per
-- address: at most one a minute and five an hour. Kept for an hour.
CREATE TABLE mail_sends (
    id          INTEGER PRIMARY KEY,
    address_key TEXT    NOT NULL,
    sent_at     INTEGER NOT NULL
);
CREATE INDEX mail_sends_address_key ON mail_sends (address_key, sent_at);
