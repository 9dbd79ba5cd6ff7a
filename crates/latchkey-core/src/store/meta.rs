use sqlx::SqliteExecutor;

/// This database's random id (made by its migration). A driver error, so start-up can say what
/// went wrong with the file.
pub async fn install_id<'e>(ex: impl SqliteExecutor<'e>) -> sqlx::Result<String> {
    sqlx::query_scalar("SELECT value FROM meta WHERE key = 'install_id'").fetch_one(ex).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::test_db;

    #[tokio::test]
    async fn every_database_has_its_own_install_id_and_keeps_it() {
        let (a, b) = (test_db().await, test_db().await);
        let id = install_id(&a.pool).await.unwrap();
        assert_eq!(id.len(), 32);
        assert_ne!(id, install_id(&b.pool).await.unwrap());
        a.pool.close().await;
        let reopened = crate::store::open(&a.path()).await.unwrap();
        assert_eq!(install_id(&reopened).await.unwrap(), id);
    }
}
