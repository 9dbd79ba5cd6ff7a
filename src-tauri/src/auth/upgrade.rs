//! Rows written by an earlier version, brought up to the current rules once at start-up, for
//! what SQL alone cannot compute.

use sqlx::SqlitePool;

use super::validate;
use crate::error::Result;
use crate::store::users;

/// Gives each account made before usernames had skeletons its skeleton; returns how many got one.
/// Two old accounts whose names look alike both keep working: the first keeps the skeleton (and so
/// keeps new look-alikes out), the later one is left without and logged.
pub async fn fill_username_skeletons(pool: &SqlitePool) -> Result<usize> {
    let mut filled = 0;
    for (id, username) in users::without_skeleton(pool).await? {
        if users::set_skeleton(pool, id, &validate::username_skeleton(&username)).await? {
            filled += 1;
        } else {
            log::warn!("account {id}'s username looks like an older account's; both keep working");
        }
    }
    if filled > 0 {
        log::info!("gave {filled} usernames their look-alike skeleton");
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

    use super::*;
    use crate::auth::signup::{self, SignupRequest};
    use crate::auth::{account, login, secret};
    use crate::error::Error;
    use crate::mail::Mailer;
    use crate::store;

    const PW: &str = "correct horse battery";
    const T0: i64 = 1_800_000_000;

    /// A database as the version before skeletons left it: only the migrations it had.
    async fn database_before_skeletons(path: &Path) {
        let old = tempfile::tempdir().unwrap();
        let all = Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations");
        for entry in std::fs::read_dir(all).unwrap() {
            let entry = entry.unwrap().path();
            if entry.file_name().unwrap().to_str().unwrap() < "20261128100000" {
                std::fs::copy(&entry, old.path().join(entry.file_name().unwrap())).unwrap();
            }
        }
        let options = SqliteConnectOptions::new().filename(path).create_if_missing(true);
        let pool = SqlitePoolOptions::new().connect_with(options).await.unwrap();
        sqlx::migrate::Migrator::new(old.path()).await.unwrap().run(&pool).await.unwrap();
        let hash = secret::hash(PW).unwrap();
        // "admin", then a Cyrillic-"а" look-alike that the old rules let in, then "ace".
        for (name, email) in
            [("admin", "admin@example.com"), ("\u{430}dmin", "fake@example.com"), ("ace", "ace@example.com")]
        {
            sqlx::query(
                "INSERT INTO users (username, username_key, email, email_key, password_hash, date_joined)
                 VALUES (?, lower(?), ?, ?, ?, 1)",
            )
            .bind(name)
            .bind(name)
            .bind(email)
            .bind(email)
            .bind(&hash)
            .execute(&pool)
            .await
            .unwrap();
        }
        pool.close().await;
    }

    #[tokio::test]
    async fn an_existing_database_keeps_working_and_gains_look_alike_protection() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(store::DB_FILE);
        database_before_skeletons(&path).await;
        let pool = store::open(&path).await.unwrap();
        assert_eq!(fill_username_skeletons(&pool).await.unwrap(), 2);
        assert_eq!(fill_username_skeletons(&pool).await.unwrap(), 0, "once is enough");
        let left: Vec<String> = sqlx::query_scalar("SELECT username FROM users WHERE username_skeleton IS NULL")
            .fetch_all(&pool)
            .await
            .unwrap();
        assert_eq!(left, ["\u{430}dmin"]);

        // Both old look-alikes still sign in by the name as typed, and can still leave.
        let real = login::login(&pool, "Admin", PW, T0).await.unwrap();
        assert_eq!(real.profile.username, "admin");
        let fake = login::login(&pool, "\u{430}dmin", PW, T0).await.unwrap();
        assert_eq!(fake.profile.username, "\u{430}dmin");
        let mailer = Mailer::outbox(&dir.path().join("outbox"), crate::config::DEFAULT_FROM).unwrap();
        account::delete_account(&pool, &mailer, Some(&fake.token), PW, "\u{430}dmin", T0).await.unwrap();

        // A new look-alike of an old account is refused: all-Cyrillic "асе" beside "ace".
        let request = SignupRequest { username: "\u{430}\u{441}\u{435}", email: "new@example.com", password: PW };
        let taken = signup::request_code(&pool, &mailer, request, T0).await;
        assert!(matches!(taken, Err(Error::UsernameTaken)), "{taken:?}");
    }
}
