-- A password reset belongs to whoever asked for it, as a sign-up does: the requester holds a
-- random reset id and the row keeps only its SHA-256, so nobody else can enter (and use up) its
-- code. Several people may now have a reset in progress for one address. Resets from before this
-- change have no owner and could never be used; codes live 10 minutes, so they are dropped.
DELETE FROM account_codes WHERE purpose = 'password_reset';
DROP INDEX account_codes_reset;
ALTER TABLE account_codes ADD COLUMN owner_hash BLOB CHECK (owner_hash IS NULL OR length(owner_hash) = 32);
CREATE UNIQUE INDEX account_codes_owner_hash ON account_codes (owner_hash);
CREATE INDEX account_codes_reset_address ON account_codes (email_key) WHERE purpose = 'password_reset';

-- Code mails are counted per address and requester (the client's address on the service, the one
-- window on the desktop) as well as per address, so that others' requests cannot use up the
-- owner's allowance.
ALTER TABLE mail_sends ADD COLUMN requester TEXT NOT NULL DEFAULT '';
CREATE INDEX mail_sends_requester ON mail_sends (address_key, requester, sent_at);
