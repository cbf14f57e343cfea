//! The company settings' SQL: one row per revision, the highest in force. Setting them is
//! a compare-and-set on the revision, inside the writer's transaction, so two managers
//! saving at once cannot both win.

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::error::{Error, Result};
use crate::storage::StoredSettings;

pub(super) fn current(c: &Connection) -> Result<Option<StoredSettings>> {
    Ok(c.query_row(
        "SELECT revision, json, set_by, set_at FROM company_settings \
         ORDER BY revision DESC LIMIT 1",
        [],
        |r| {
            Ok(StoredSettings {
                revision: r.get::<_, i64>(0)?.try_into().unwrap_or_default(),
                json: r.get(1)?,
                set_by: r.get(2)?,
                set_at: r.get(3)?,
            })
        },
    )
    .optional()?)
}

pub(super) fn set(
    tx: &Transaction<'_>,
    expected: u64,
    json: &str,
    by: &str,
    now: i64,
) -> Result<u64> {
    let revision = current(tx)?.map_or(0, |s| s.revision);
    if revision != expected {
        return Err(Error::SettingsConflict);
    }
    let next = revision + 1;
    tx.execute(
        "INSERT INTO company_settings (revision, json, set_by, set_at) VALUES (?1, ?2, ?3, ?4)",
        params![
            i64::try_from(next).map_err(|_| Error::SettingsConflict)?,
            json,
            by,
            now
        ],
    )?;
    Ok(next)
}
