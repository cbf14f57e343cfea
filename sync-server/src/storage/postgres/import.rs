//! Moving a company from its SQLite file to PostgreSQL (`fieldbook-server move-to-postgres`).
//!
//! The copy is exact, so devices notice nothing: the server identity and cursor key (their
//! cursors stay valid), every position, every change's bytes, every device, session and
//! review item. It runs in **one PostgreSQL transaction** that first empties the target's
//! tables, so a failed run leaves the target as it was and a re-run gives the same result
//! (the SQLite file is only read). What it refuses:
//!
//! - a target that belongs to another company (another server identity) and holds data;
//! - a target ahead of the file (its position head is past the file's): instances already
//!   serve it, and emptying it would lose their changes.
//!
//! FTS5's contentless tables cannot be read back, so the search rows are derived again
//! from each card's document afterwards (the read model's reclassify queue, the same path
//! an upgraded schema takes). Then every card's heads are compared on both sides, with
//! every table's row count; any difference fails the command.
//!
//! Stop the SQLite server before moving (the file must not change during the copy), then
//! start the instances on PostgreSQL.

use std::collections::HashMap;
use std::path::Path;

use rusqlite::types::ValueRef;
use tokio_postgres::types::ToSql;

use super::{PgStorage, Transaction, pg};
use crate::error::{Error, Result};

/// The tables copied, in an order that satisfies their foreign keys.
const TABLES: &[&str] = &[
    "meta",
    "people",
    "territories",
    "scope_events",
    "enrolments",
    "devices",
    "device_actors",
    "change_log",
    "cards",
    "projections",
    "fallback_states",
    "held_changes",
    "held_hashes",
    "assignments",
    "server_actors",
    "manager_cards",
    "manager_card_tags",
    "manager_changes",
    "manager_activity",
    "manager_reclassify",
    "web_logins",
    "web_login_links",
    "web_sessions",
    "web_login_failures",
    "company_settings",
];

/// Identity columns whose sequences must continue after the copied ids.
const IDENTITIES: &[(&str, &str)] = &[
    ("held_changes", "id"),
    ("assignments", "id"),
    ("manager_cards", "num"),
    ("web_login_failures", "id"),
];

/// Parameters per INSERT statement (PostgreSQL allows 65,535).
const PARAMS_PER_STATEMENT: usize = 8_000;

/// What a move did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct MoveReport {
    /// Rows copied, per table.
    pub rows: Vec<(String, u64)>,
    /// Cards whose heads were compared (all of them).
    pub cards_verified: u64,
    /// Cards whose search rows and read model were derived again.
    pub cards_reindexed: usize,
}

/// Copies the SQLite database at `sqlite` into the PostgreSQL database at `target`
/// (migrated first), then verifies it. See the module docs.
pub fn move_to_postgres(sqlite: &Path, target: &PgStorage) -> Result<MoveReport> {
    // Read-only: the file is never written, not even its schema version.
    let source = crate::storage::sqlite::SqliteStorage::open_read_only(sqlite)?;
    drop(source); // opened only to check the schema is current
    let conn = rusqlite::Connection::open_with_flags(
        sqlite,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    // One read transaction: every table as of one moment.
    conn.execute_batch("BEGIN")?;
    let mut report = target.write(async |tx| copy_all(&conn, tx).await)?;
    conn.execute_batch("COMMIT")?;
    // Search rows (and the whole read model) from each card's document.
    report.cards_reindexed = crate::manager::read_model::reclassify(target)?;
    report.cards_verified = verify(&conn, target)?;
    Ok(report)
}

async fn copy_all(conn: &rusqlite::Connection, tx: &Transaction<'_>) -> Result<MoveReport> {
    guard_target(conn, tx).await?;
    tx.batch_execute(&format!("TRUNCATE {} RESTART IDENTITY", TABLES.join(", ")))
        .await
        .map_err(pg)?;
    let mut report = MoveReport::default();
    for table in TABLES {
        let n = copy_table(conn, tx, table).await?;
        report.rows.push(((*table).to_owned(), n));
    }
    for (table, column) in IDENTITIES {
        tx.execute(
            &format!(
                "SELECT setval(pg_get_serial_sequence('{table}', '{column}'), \
                 GREATEST((SELECT max({column}) FROM {table}), 1))"
            ),
            &[],
        )
        .await
        .map_err(pg)?;
    }
    // Every card's search rows are gone with FTS5: derive them (and the rest of the
    // read model) again from the documents.
    tx.execute(
        "INSERT INTO manager_reclassify (card_id) SELECT card_id FROM cards \
         ON CONFLICT DO NOTHING",
        &[],
    )
    .await
    .map_err(pg)?;
    Ok(report)
}

/// Refuses a target that is another company's or ahead of the file.
async fn guard_target(conn: &rusqlite::Connection, tx: &Transaction<'_>) -> Result<()> {
    let (server_id, head): (String, i64) =
        conn.query_row("SELECT server_id, head FROM meta WHERE id = 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    // Locks the target's position head: no instance commits during the move.
    let row = tx
        .query_one(
            "SELECT server_id, head FROM meta WHERE id = 1 FOR UPDATE",
            &[],
        )
        .await
        .map_err(pg)?;
    let (target_id, target_head): (String, i64) = (row.get(0), row.get(1));
    let target_has_data: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM people) OR EXISTS (SELECT 1 FROM cards)",
            &[],
        )
        .await
        .map_err(pg)?
        .get(0);
    if target_id != server_id && target_has_data {
        return Err(Error::Invalid(
            "the PostgreSQL database holds another company's data; move into an empty one".into(),
        ));
    }
    if target_id == server_id && target_head > head {
        return Err(Error::Invalid(format!(
            "the PostgreSQL database is ahead of the file (position {target_head} > {head}): \
             instances already serve it, and moving again would lose their changes"
        )));
    }
    Ok(())
}

/// One column's PostgreSQL type, which decides how SQLite's value is bound.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Bool,
    Int,
    Bytes,
    Text,
}

async fn copy_table(conn: &rusqlite::Connection, tx: &Transaction<'_>, table: &str) -> Result<u64> {
    let columns: Vec<(String, Kind)> = tx
        .query(
            "SELECT column_name, data_type FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
            &[&table],
        )
        .await
        .map_err(pg)?
        .iter()
        .map(|r| {
            let name: String = r.get(0);
            let ty: String = r.get(1);
            let kind = match ty.as_str() {
                "boolean" => Ok(Kind::Bool),
                "bigint" | "integer" => Ok(Kind::Int),
                "bytea" => Ok(Kind::Bytes),
                "text" => Ok(Kind::Text),
                other => Err(Error::Storage(format!(
                    "{table}.{name}: no copy for type {other}"
                ))),
            }?;
            Ok((name, kind))
        })
        .collect::<Result<_>>()?;
    let names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
    let mut select = conn.prepare(&format!("SELECT {} FROM {table}", names.join(", ")))?;
    let per_statement = (PARAMS_PER_STATEMENT / columns.len().max(1)).max(1);
    let mut statements: HashMap<usize, tokio_postgres::Statement> = HashMap::new();
    let mut batch: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
    let mut rows_in_batch = 0;
    let mut copied = 0u64;
    let mut rows = select.query([])?;
    loop {
        let row = rows.next()?;
        if let Some(row) = row {
            for (i, (name, kind)) in columns.iter().enumerate() {
                batch.push(value(row.get_ref(i)?, *kind, table, name)?);
            }
            rows_in_batch += 1;
        }
        let full = rows_in_batch == per_statement;
        let last = row.is_none();
        if rows_in_batch > 0 && (full || last) {
            let stmt = match statements.get(&rows_in_batch) {
                Some(s) => s.clone(),
                None => {
                    let s = tx
                        .prepare(&insert_sql(table, &names, rows_in_batch))
                        .await
                        .map_err(pg)?;
                    statements.insert(rows_in_batch, s.clone());
                    s
                }
            };
            let params: Vec<&(dyn ToSql + Sync)> = batch
                .iter()
                .map(|b| b.as_ref() as &(dyn ToSql + Sync))
                .collect();
            tx.execute(&stmt, &params).await.map_err(pg)?;
            copied += rows_in_batch as u64;
            batch.clear();
            rows_in_batch = 0;
        }
        if last {
            return Ok(copied);
        }
    }
}

fn insert_sql(table: &str, names: &[&str], rows: usize) -> String {
    let n = names.len();
    let values: Vec<String> = (0..rows)
        .map(|r| {
            let ps: Vec<String> = (1..=n).map(|c| format!("${}", r * n + c)).collect();
            format!("({})", ps.join(", "))
        })
        .collect();
    format!(
        "INSERT INTO {table} ({}) VALUES {}",
        names.join(", "),
        values.join(", ")
    )
}

/// SQLite's value as the column's PostgreSQL type (SQLite keeps flags as integers).
fn value(
    v: ValueRef<'_>,
    kind: Kind,
    table: &str,
    column: &str,
) -> Result<Box<dyn ToSql + Sync + Send>> {
    let bad = || Error::Storage(format!("{table}.{column}: a value of the wrong type"));
    Ok(match (kind, v) {
        (Kind::Bool, ValueRef::Null) => Box::new(None::<bool>),
        (Kind::Bool, ValueRef::Integer(i)) => Box::new(Some(i != 0)),
        (Kind::Int, ValueRef::Null) => Box::new(None::<i64>),
        (Kind::Int, ValueRef::Integer(i)) => Box::new(Some(i)),
        (Kind::Bytes, ValueRef::Null) => Box::new(None::<Vec<u8>>),
        (Kind::Bytes, ValueRef::Blob(b)) => Box::new(Some(b.to_vec())),
        (Kind::Text, ValueRef::Null) => Box::new(None::<String>),
        (Kind::Text, ValueRef::Text(t)) => {
            Box::new(Some(String::from_utf8(t.to_vec()).map_err(|_| bad())?))
        }
        _ => return Err(bad()),
    })
}

/// Every card's heads and every table's row count, compared on both sides; returns the
/// number of cards compared.
fn verify(conn: &rusqlite::Connection, target: &PgStorage) -> Result<u64> {
    let mut source: Vec<(String, Vec<u8>)> = conn
        .prepare("SELECT card_id, heads FROM cards ORDER BY card_id")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    source.sort();
    let mut counts = Vec::new();
    for table in TABLES {
        let n: i64 = conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?;
        counts.push((*table, n));
    }
    target.read(async |c| {
        let mut stored: Vec<(String, Vec<u8>)> = c
            .query("SELECT card_id, heads FROM cards", &[])
            .await
            .map_err(pg)?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        stored.sort();
        if stored != source {
            let differ = source.iter().zip(&stored).filter(|(a, b)| a != b).count()
                + source.len().abs_diff(stored.len());
            return Err(Error::Storage(format!(
                "verification failed: {differ} cards differ in their heads"
            )));
        }
        for (table, n) in &counts {
            // The read model was derived again: its row counts may legitimately move
            // (a change re-classified), the rest must be exact.
            if table.starts_with("manager_") {
                continue;
            }
            let m: i64 = c
                .query_one(&format!("SELECT count(*) FROM {table}"), &[])
                .await
                .map_err(pg)?
                .get(0);
            if m != *n {
                return Err(Error::Storage(format!(
                    "verification failed: {table} has {m} rows, the file {n}"
                )));
            }
        }
        Ok(())
    })?;
    Ok(source.len() as u64)
}
