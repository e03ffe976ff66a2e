//! Shadow tables for a projection rebuild: fresh, empty copies of the read
//! tables beside the live ones, filled while the live ones keep serving,
//! then swapped in atomically with the rebuild's positions — `RENAME TABLE`
//! of all three at once on MySQL, one transaction of `ALTER TABLE … RENAME`
//! on SQLite.

use sqlx::Row;

use super::dialect::Dialect;
use super::store::{SqlStore, Tables};
use crate::{Counts, StoreError};

const SHADOW: &str = "_next";
const RETIRED: &str = "_old";

fn names(tables: &Tables) -> [&str; 3] {
    [&tables.posts, &tables.comments, &tables.rejected]
}

/// SQLite has no `CREATE TABLE … LIKE`: the live table's own statements,
/// renamed. Index names are global in SQLite, so each shadow index gets a
/// name of its own (`run` keeps them apart from earlier rebuilds' names).
fn sqlite_shadow_ddl(table: &str, shadow: &str, statements: &[(String, String)], run: u64) -> Vec<String> {
    statements
        .iter()
        .enumerate()
        .map(|(i, (kind, sql))| match kind.as_str() {
            "table" => sql.replacen(
                &format!("CREATE TABLE {table}"),
                &format!("CREATE TABLE {shadow}"),
                1,
            ),
            _ => {
                let on = sql.find(" ON ").map_or(sql.len(), |at| at);
                let columns = sql[on..].replacen(&format!(" ON {table}"), &format!(" ON {shadow}"), 1);
                format!("CREATE INDEX {shadow}_{run}_{i}{columns}")
            }
        })
        .collect()
}

impl SqlStore {
    /// This store over empty shadow tables (dropping any an unfinished
    /// rebuild left behind).
    pub(super) async fn make_shadow(&self, projection: &str) -> Result<SqlStore, StoreError> {
        let live = Tables::with_suffix("");
        let shadow = Tables::with_suffix(SHADOW);
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM projection_positions WHERE projection = ?")
            .bind(projection)
            .execute(&mut *tx)
            .await?;
        for (table, copy) in names(&live).into_iter().zip(names(&shadow)) {
            sqlx::query(&format!("DROP TABLE IF EXISTS {copy}"))
                .execute(&mut *tx)
                .await?;
            match self.dialect {
                Dialect::MySql => {
                    sqlx::query(&format!("CREATE TABLE {copy} LIKE {table}"))
                        .execute(&mut *tx)
                        .await?;
                }
                Dialect::Sqlite => {
                    let rows = sqlx::query(
                        "SELECT type, sql FROM sqlite_master WHERE tbl_name = ? AND sql IS NOT NULL ORDER BY type DESC",
                    )
                    .bind(table)
                    .fetch_all(&mut *tx)
                    .await?;
                    let statements = rows
                        .iter()
                        .map(|r| Ok((r.try_get::<String, _>("type")?, r.try_get::<String, _>("sql")?)))
                        .collect::<Result<Vec<_>, sqlx::Error>>()?;
                    for ddl in sqlite_shadow_ddl(table, copy, &statements, super::store::now_us() as u64) {
                        sqlx::query(&ddl).execute(&mut *tx).await?;
                    }
                }
            }
        }
        tx.commit().await?;
        Ok(SqlStore {
            tables: shadow,
            ..self.clone()
        })
    }

    /// Puts this store's shadow tables in place of the live ones and gives
    /// projection `from`'s positions to `to`; the old tables are dropped.
    pub(super) async fn swap_shadow_in(&self, from: &str, to: &str) -> Result<(), StoreError> {
        let live = Tables::with_suffix("");
        let old = Tables::with_suffix(RETIRED);
        let renames = |a: &Tables, b: &Tables| -> Vec<(String, String)> {
            names(a)
                .iter()
                .zip(names(b))
                .map(|(x, y)| (x.to_string(), y.to_string()))
                .collect()
        };
        let retire = renames(&live, &old);
        let promote = renames(&self.tables, &live);
        let mut tx = self.pool.begin().await?;
        for table in names(&old) {
            sqlx::query(&format!("DROP TABLE IF EXISTS {table}"))
                .execute(&mut *tx)
                .await?;
        }
        match self.dialect {
            Dialect::MySql => {
                // One statement renames all six at once: readers see the old
                // tables or the new ones, never a mix. It commits by itself.
                let pairs: Vec<String> = retire
                    .iter()
                    .chain(&promote)
                    .map(|(a, b)| format!("{a} TO {b}"))
                    .collect();
                sqlx::query(&format!("RENAME TABLE {}", pairs.join(", ")))
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                tx = self.pool.begin().await?;
            }
            Dialect::Sqlite => {
                for (a, b) in retire.iter().chain(&promote) {
                    sqlx::query(&format!("ALTER TABLE {a} RENAME TO {b}"))
                        .execute(&mut *tx)
                        .await?;
                }
            }
        }
        sqlx::query("DELETE FROM projection_positions WHERE projection = ?")
            .bind(to)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE projection_positions SET projection = ? WHERE projection = ?")
            .bind(to)
            .bind(from)
            .execute(&mut *tx)
            .await?;
        for table in names(&old) {
            sqlx::query(&format!("DROP TABLE IF EXISTS {table}"))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn table_counts(&self) -> Result<Counts, StoreError> {
        let t = &self.tables;
        let sql = format!(
            "SELECT (SELECT COUNT(*) FROM {p} WHERE requested = 1) AS posts, \
                    (SELECT COUNT(*) FROM {p} WHERE requested = 1 AND status = 'published') AS published, \
                    (SELECT CAST(COALESCE(SUM(comment_count), 0) AS {int}) FROM {p}) AS counted, \
                    (SELECT COUNT(*) FROM {c} WHERE deleted = 0) AS live_comments, \
                    (SELECT COUNT(*) FROM {r}) AS rejected",
            p = t.posts,
            c = t.comments,
            r = t.rejected,
            // MySQL sums to DECIMAL, which sqlx's Any driver cannot read.
            int = match self.dialect {
                Dialect::MySql => "SIGNED",
                Dialect::Sqlite => "INTEGER",
            }
        );
        let row = sqlx::query(&sql).fetch_one(&self.pool).await?;
        let get = |name: &str| -> Result<i64, StoreError> { Ok(row.try_get::<i64, _>(name)?) };
        Ok(Counts {
            posts: get("posts")?,
            published: get("published")?,
            comment_count_sum: get("counted")?,
            live_comments: get("live_comments")?,
            rejected: get("rejected")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_shadow_statements_rename_the_table_and_its_indexes() {
        let statements = vec![
            (
                "table".to_owned(),
                "CREATE TABLE posts (\n id CHAR(36) NOT NULL PRIMARY KEY)".to_owned(),
            ),
            (
                "index".to_owned(),
                "CREATE INDEX posts_feed ON posts (requested, id)".to_owned(),
            ),
        ];
        let ddl = sqlite_shadow_ddl("posts", "posts_next", &statements, 7);
        assert_eq!(
            ddl[0],
            "CREATE TABLE posts_next (\n id CHAR(36) NOT NULL PRIMARY KEY)"
        );
        assert_eq!(
            ddl[1],
            "CREATE INDEX posts_next_7_1 ON posts_next (requested, id)"
        );
    }
}
