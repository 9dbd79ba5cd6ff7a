-- The operator's `require-reset`: as the SQLite migration of the same name.
ALTER TABLE users ADD COLUMN reset_required BOOLEAN NOT NULL DEFAULT false;
