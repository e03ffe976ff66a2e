//! The schema's migrations, run when a store connects.
//!
//! On MySQL/MariaDB, roles started together migrate one after another
//! under an advisory lock, and a migration a crash cut short is finished
//! instead of needing repair by hand. MySQL commits each DDL statement by
//! itself, so a process killed mid-migration leaves some of its
//! statements applied and sqlx's row for it marked unfinished ("dirty"),
//! which sqlx then refuses to go past. Under the lock, such a migration
//! is replayed statement by statement, a statement whose error says its
//! work is already there (the table, column or index exists) counting as
//! done, and then marked finished. Every migration here is DDL, or data
//! changes that may run twice, so a replay ends where a whole run would.

use sqlx::{AnyPool, Executor};

use super::dialect::Dialect;
use crate::StoreError;

static MYSQL_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/mysql");
static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// How long a start waits for another process's migrations.
const LOCK_WAIT_SECS: i64 = 600;

/// The lock's name: one per database, so databases on a server migrate
/// independently.
const LOCK_NAME: &str = "CONCAT('imagegram-migrate-', DATABASE())";

/// MySQL errors that say a statement's work is already done: table
/// exists (1050), column exists (1060), index name taken (1061), table
/// already has a primary key (1068), nothing to drop (1091, and 1051 for
/// a table), foreign key name taken (1826).
const ALREADY_DONE: [u16; 7] = [1050, 1060, 1061, 1068, 1091, 1051, 1826];

/// Runs the pending migrations of `dialect`.
pub(crate) async fn run(pool: &AnyPool, dialect: Dialect) -> Result<(), StoreError> {
    match dialect {
        Dialect::MySql => run_mysql(pool).await,
        // One process has an embedded SQLite file, and SQLite runs each
        // migration in a transaction: nothing can be left half-applied.
        Dialect::Sqlite => Ok(SQLITE_MIGRATIONS.run(pool).await?),
    }
}

/// sqlx takes its own lock with `GET_LOCK(name, -1)`, which MariaDB
/// answers with NULL (no lock), so the lock is taken, and checked, here on
/// one connection, and the migrations run on that same connection.
async fn run_mysql(pool: &AnyPool) -> Result<(), StoreError> {
    let mut conn = pool.acquire().await?;
    let got: Option<i64> = sqlx::query_scalar(&format!("SELECT GET_LOCK({LOCK_NAME}, {LOCK_WAIT_SECS})"))
        .fetch_one(&mut *conn)
        .await?;
    if got != Some(1) {
        return Err(StoreError::MigrationLock(LOCK_WAIT_SECS as u64));
    }
    let migrated = async {
        finish_cut_short(&mut conn).await?;
        MYSQL_MIGRATIONS.run_direct(&mut *conn).await?;
        Ok::<(), StoreError>(())
    }
    .await;
    let released = sqlx::query(&format!("SELECT RELEASE_LOCK({LOCK_NAME})"))
        .execute(&mut *conn)
        .await;
    migrated?;
    released?;
    Ok(())
}

/// Finishes every migration a crash left unfinished (with the lock held).
async fn finish_cut_short(conn: &mut sqlx::AnyConnection) -> Result<(), StoreError> {
    let table: Option<String> = sqlx::query_scalar(
        "SELECT table_name FROM information_schema.tables \
         WHERE table_schema = DATABASE() AND table_name = '_sqlx_migrations'",
    )
    .fetch_optional(&mut *conn)
    .await?;
    if table.is_none() {
        return Ok(());
    }
    let dirty: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success = FALSE ORDER BY version")
            .fetch_all(&mut *conn)
            .await?;
    for version in dirty {
        let Some(migration) = MYSQL_MIGRATIONS.iter().find(|m| m.version == version) else {
            // A newer version's migration: leave it to sqlx to refuse.
            continue;
        };
        tracing::warn!(
            version,
            description = %migration.description,
            "a migration was cut short (its process died mid-way); finishing it"
        );
        for statement in statements(&migration.sql) {
            match conn.execute(statement.as_str()).await {
                Ok(_) => {}
                Err(e) if already_done(&e) => {
                    tracing::info!(version, error = %e, "statement already applied");
                }
                Err(e) => return Err(e.into()),
            }
        }
        sqlx::query("UPDATE _sqlx_migrations SET success = TRUE WHERE version = ?")
            .bind(version)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

fn already_done(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => db
            .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
            .is_some_and(|m| ALREADY_DONE.contains(&m.number())),
        _ => false,
    }
}

/// The statements of a migration script: `--` comments dropped, split at
/// each `;` outside quotes, blank ones left out. Pure.
pub(crate) fn statements(script: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    let mut chars = script.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                current.push(c);
                if c == '\\' {
                    if let Some(next) = chars.next() {
                        current.push(next);
                    }
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '\'' | '"' | '`' => {
                    quote = Some(c);
                    current.push(c);
                }
                '-' if chars.peek() == Some(&'-') => {
                    for skipped in chars.by_ref() {
                        if skipped == '\n' {
                            current.push('\n');
                            break;
                        }
                    }
                }
                ';' => {
                    push_statement(&mut out, &mut current);
                }
                _ => current.push(c),
            },
        }
    }
    push_statement(&mut out, &mut current);
    out
}

fn push_statement(out: &mut Vec<String>, current: &mut String) {
    let statement = current.trim();
    if !statement.is_empty() {
        out.push(statement.to_owned());
    }
    current.clear();
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn comments_are_dropped_and_semicolons_in_them_ignored() {
        let script =
            "-- one; two\nCREATE TABLE a (x INT); -- tail; end\n\nALTER TABLE a ADD y TEXT DEFAULT 'p;q';\n";
        assert_eq!(
            statements(script),
            vec!["CREATE TABLE a (x INT)", "ALTER TABLE a ADD y TEXT DEFAULT 'p;q'"]
        );
    }

    #[test]
    fn every_shipped_migration_splits_into_its_statements() {
        let counts: Vec<usize> = MYSQL_MIGRATIONS
            .iter()
            .map(|m| statements(&m.sql).len())
            .collect();
        assert_eq!(counts, vec![6, 1, 1, 1, 5, 1]);
        for m in MYSQL_MIGRATIONS.iter() {
            for s in statements(&m.sql) {
                assert!(s.starts_with("CREATE") || s.starts_with("ALTER"), "{s}");
            }
        }
    }

    proptest! {
        #[test]
        fn joined_statements_split_back(parts in proptest::collection::vec("[a-zA-Z0-9 (),_]{1,30}", 0..6)) {
            let parts: Vec<String> = parts.iter().map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()).collect();
            let script = parts.iter().map(|p| format!("{p}; -- note; {p}\n")).collect::<String>();
            prop_assert_eq!(statements(&script), parts);
        }
    }
}
