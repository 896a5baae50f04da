//! The D1 schema: the files of `worker/migrations/`, the one source of it. `wrangler d1
//! migrations apply` applies them in production; the Worker applies any still missing on
//! first use (each file with its record in one D1 batch, which is one transaction), in
//! wrangler's own `d1_migrations` table, so either may run first and neither repeats
//! the other. `GET /v1/admin/check` reports what is applied.

/// wrangler's table of applied migrations (its default name and shape).
pub const TABLE: &str = "CREATE TABLE IF NOT EXISTS d1_migrations(\
    id INTEGER PRIMARY KEY AUTOINCREMENT, \
    name TEXT UNIQUE, \
    applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL)";

/// Every migration, by file name, in order.
pub const MIGRATIONS: [(&str, &str); 5] = [
    (
        "0001_delivery_log.sql",
        include_str!("../migrations/0001_delivery_log.sql"),
    ),
    (
        "0002_integrations.sql",
        include_str!("../migrations/0002_integrations.sql"),
    ),
    (
        "0003_console.sql",
        include_str!("../migrations/0003_console.sql"),
    ),
    (
        "0004_dead_letter_kinds.sql",
        include_str!("../migrations/0004_dead_letter_kinds.sql"),
    ),
    (
        "0005_tenants.sql",
        include_str!("../migrations/0005_tenants.sql"),
    ),
];

/// The statements of a migration file: comments dropped, split at `;`.
pub fn statements(sql: &str) -> Vec<String> {
    let without_comments: String = sql
        .lines()
        .map(|l| l.split("--").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    without_comments
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The migrations not in `applied`, in order.
pub fn pending(applied: &[String]) -> Vec<(&'static str, &'static str)> {
    MIGRATIONS
        .iter()
        .filter(|(name, _)| !applied.iter().any(|a| a == name))
        .copied()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_of_the_folder_is_listed_in_order() {
        let mut files: Vec<String> =
            std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .filter(|n| n.ends_with(".sql"))
                .collect();
        files.sort();
        let listed: Vec<&str> = MIGRATIONS.iter().map(|(n, _)| *n).collect();
        assert_eq!(files, listed);
    }

    #[test]
    fn statements_drop_comments_and_blank_ones() {
        let s = statements(
            "-- a; comment\nCREATE TABLE a (x TEXT); -- trailing;\n\nALTER TABLE a ADD COLUMN y TEXT;\n",
        );
        assert_eq!(
            s,
            vec!["CREATE TABLE a (x TEXT)", "ALTER TABLE a ADD COLUMN y TEXT"]
        );
        for (_, sql) in MIGRATIONS {
            assert!(statements(sql).iter().all(|s| !s.contains("--")));
        }
    }

    #[test]
    fn pending_is_what_is_not_applied() {
        assert_eq!(pending(&[]).len(), MIGRATIONS.len());
        let first = vec![MIGRATIONS[0].0.to_owned()];
        assert_eq!(pending(&first)[0].0, MIGRATIONS[1].0);
    }
}
