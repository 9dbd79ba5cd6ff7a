-- The operator's `require-reset`: sign-in is refused until an emailed password reset.
ALTER TABLE users ADD COLUMN reset_required INTEGER NOT NULL DEFAULT 0 CHECK (reset_required IN (0, 1));
