//! The statements that differ between MySQL/MariaDB and SQLite.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    MySql,
    Sqlite,
}

/// How a SQLite store commits (MySQL's InnoDB is durable either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// A commit may be lost to a power cut: for what the log can rebuild
    /// (the read model).
    Rebuildable,
    /// Every commit is on disk before it returns: for what only this store
    /// holds (idempotency keys, processed marks, tus offsets).
    Full,
}

impl Dialect {
    pub fn of_url(url: &str) -> Option<Self> {
        if url.starts_with("mysql:") || url.starts_with("mariadb:") {
            Some(Dialect::MySql)
        } else if url.starts_with("sqlite:") {
            Some(Dialect::Sqlite)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Dialect::MySql => "mysql",
            Dialect::Sqlite => "sqlite",
        }
    }

    /// Run on every new connection.
    pub fn session_setup(self, durability: Durability) -> &'static [&'static str] {
        match (self, durability) {
            // Read committed: projections never need gap locks, and feed
            // reads must not block on them. InnoDB commits durably by default.
            (Dialect::MySql, _) => &["SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED"],
            // WAL lets readers run beside the one writer. NORMAL sync can
            // lose the last commits to a power cut, not to a crash: fine
            // where the log rebuilds what is lost.
            (Dialect::Sqlite, Durability::Rebuildable) => &[
                "PRAGMA journal_mode = WAL",
                "PRAGMA synchronous = NORMAL",
                "PRAGMA busy_timeout = 10000",
            ],
            // FULL sync: every commit is on disk before it returns.
            (Dialect::Sqlite, Durability::Full) => &[
                "PRAGMA journal_mode = WAL",
                "PRAGMA synchronous = FULL",
                "PRAGMA busy_timeout = 10000",
            ],
        }
    }

    /// `INSERT` that skips rows whose key exists.
    pub fn insert_ignore(self) -> &'static str {
        match self {
            Dialect::MySql => "INSERT IGNORE",
            Dialect::Sqlite => "INSERT OR IGNORE",
        }
    }

    /// The tail of an upsert on primary key `key`. In `set`, `NEW(col)`
    /// names the value being inserted; a bare column is the stored row's.
    pub fn upsert(self, key: &str, set: &str) -> String {
        match self {
            Dialect::MySql => format!("ON DUPLICATE KEY UPDATE {}", new_values(set, "VALUES(", ")")),
            Dialect::Sqlite => format!(
                "ON CONFLICT({key}) DO UPDATE SET {}",
                new_values(set, "excluded.", "")
            ),
        }
    }
}

/// Rewrites every `NEW(col)` in `set` as `{before}col{after}`.
fn new_values(set: &str, before: &str, after: &str) -> String {
    let mut out = String::with_capacity(set.len() + 16);
    let mut rest = set;
    while let Some(start) = rest.find("NEW(") {
        out.push_str(&rest[..start]);
        let tail = &rest[start + 4..];
        let Some(end) = tail.find(')') else {
            out.push_str(&rest[start..]);
            return out;
        };
        out.push_str(before);
        out.push_str(&tail[..end]);
        out.push_str(after);
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upserts_name_the_new_row_in_each_dialect() {
        let set = "status = NEW(status), version = version + 1";
        assert_eq!(
            Dialect::MySql.upsert("id", set),
            "ON DUPLICATE KEY UPDATE status = VALUES(status), version = version + 1"
        );
        assert_eq!(
            Dialect::Sqlite.upsert("id", set),
            "ON CONFLICT(id) DO UPDATE SET status = excluded.status, version = version + 1"
        );
    }
}
