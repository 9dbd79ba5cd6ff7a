-- Facts about this database. `install_id` names this data folder's entry in the OS keychain, so
-- two data folders of one person never sign each other out, and the app only ever touches the
-- entry its own database issued.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO meta (key, value) VALUES ('install_id', lower(hex(randomblob(16))));
