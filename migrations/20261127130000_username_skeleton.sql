-- Look-alike usernames (UTS #39: a Cyrillic "а" for a Latin "a", "rn" for "m") share a skeleton,
-- and no two accounts may. `username_key` stays what sign-in looks a name up by. The skeleton is
-- computed in Rust: rows from before this column get theirs at the next start-up
-- (store::users::fill_skeletons); until then, and for an old account whose name looks like an
-- older one's, it is NULL, which the unique index allows any number of.
ALTER TABLE users ADD COLUMN username_skeleton TEXT;
CREATE UNIQUE INDEX users_username_skeleton ON users (username_skeleton);
