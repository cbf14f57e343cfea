//! The company settings' SQL: one row per revision, the highest in force; as
//! `sqlite/settings.rs`. Setting them is a compare-and-set on the revision, so two
//! managers saving at once cannot both win.
//!
//! SQLite's single writer made the read-then-insert safe. Here two instances may both read
//! revision N and both insert N + 1; the revision's primary key lets only one commit (the
//! second insert waits for the first transaction, then fails), and that failure is the
//! same [`Error::SettingsConflict`] a stale revision gets. No row lock would do: the first
//! save has no row to lock.

use tokio_postgres::error::SqlState;

use super::{GenericClient, Transaction, pg, pos};
use crate::error::{Error, Result};
use crate::storage::StoredSettings;

pub(super) async fn current(c: &impl GenericClient) -> Result<Option<StoredSettings>> {
    let stmt = c
        .prepare_cached(
            "SELECT revision, json, set_by, set_at FROM company_settings \
             ORDER BY revision DESC LIMIT 1",
        )
        .await
        .map_err(pg)?;
    c.query_opt(&stmt, &[])
        .await
        .map_err(pg)?
        .map(|r| {
            Ok(StoredSettings {
                revision: pos(r.try_get(0)?),
                json: r.try_get(1)?,
                set_by: r.try_get(2)?,
                set_at: r.try_get(3)?,
            })
        })
        .transpose()
        .map_err(pg)
}

pub(super) async fn set(
    tx: &Transaction<'_>,
    expected: u64,
    json: &str,
    by: &str,
    now: i64,
) -> Result<u64> {
    let revision = current(tx).await?.map_or(0, |s| s.revision);
    if revision != expected {
        return Err(Error::SettingsConflict);
    }
    let next = revision + 1;
    let stmt = tx
        .prepare_cached(
            "INSERT INTO company_settings (revision, json, set_by, set_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .await
        .map_err(pg)?;
    let next_sql = i64::try_from(next).map_err(|_| Error::SettingsConflict)?;
    tx.execute(&stmt, &[&next_sql, &json, &by, &now])
        .await
        .map_err(|e| {
            // Another instance saved the same revision first (see the module docs).
            if e.code() == Some(&SqlState::UNIQUE_VIOLATION) {
                Error::SettingsConflict
            } else {
                pg(e)
            }
        })?;
    Ok(next)
}
