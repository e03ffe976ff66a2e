//! The contract suite against MySQL/MariaDB. Needs `IMAGEGRAM_TEST_MYSQL_URL`
//! (CI points it at the machine's MariaDB); without it every test skips.
//! Each test gets a database of its own.

mod contract;

use std::sync::Arc;

use imagegram_readstore::{ReadStore, SqlStore};
use sqlx::Connection;

async fn mysql() -> Option<Arc<dyn ReadStore>> {
    let url = std::env::var("IMAGEGRAM_TEST_MYSQL_URL")
        .ok()
        .filter(|u| !u.is_empty())?;
    let name = format!("imagegram_test_{}", uuid::Uuid::new_v4().simple());
    sqlx::any::install_default_drivers();
    let mut admin = sqlx::AnyConnection::connect(&url)
        .await
        .expect("connect to MySQL");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .expect("create database");
    let base = url.rsplit_once('/').map(|(base, _)| base).unwrap_or(&url);
    Some(Arc::new(
        SqlStore::connect(&format!("{base}/{name}"), 4)
            .await
            .expect("mysql store"),
    ))
}

read_contract_suite!(mysql().await);
