//! The device's clock against the server's.
//!
//! A device stamps visits with its own clock, and a phone set ten years ahead made every
//! device show its customers as not due until 2036. The server sends its own time in
//! every sync response ([`crate::sync::wire::SyncResponse::server_time`]); the device keeps
//! the last one with its own time at that moment (`meta.clock_sync`), which gives an
//! estimate of the true time later ([`estimate`]).
//!
//! Choice for due dates: a visit later than the estimated true time plus
//! [`TOLERANCE_SECS`] is **ignored** by the index (last visit, due date, sorting by last
//! visit), rather than clamped to the moment this device received it. Ignoring keeps the
//! index a function of the card and the time, the same on every device and after every
//! rebuild; a clamped time would depend on when each device happened to receive the card.
//! The card's visit log still shows the visit (the server flags it in the manager's
//! projection and shows the server's receive time there).

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use crate::card::{Keyed, Visit};
use crate::error::Result;

/// How far (seconds) a time may run ahead of the estimated true time and still be
/// trusted: a day absorbs a wrong time zone or a clock some hours off.
pub const TOLERANCE_SECS: i64 = 24 * 3600;

/// The best estimate of the true time (Unix seconds) at device time `device_now`, given
/// the last server time seen and the device's time then. When the device clock has gone
/// back since (someone corrected it), the old offset no longer applies and the device
/// clock is taken as it is.
pub fn estimate(last_sync: Option<(i64, i64)>, device_now: i64) -> i64 {
    match last_sync {
        Some((server, device_then)) if device_now >= device_then => {
            server.saturating_add(device_now - device_then)
        }
        _ => device_now,
    }
}

/// Records the server's time of a sync response with this device's time now.
pub(crate) fn record_server_time(conn: &Connection, server_time: Option<i64>) -> Result<()> {
    if let Some(server) = server_time {
        let mut value = [0u8; 16];
        value[..8].copy_from_slice(&server.to_le_bytes());
        value[8..].copy_from_slice(&Utc::now().timestamp().to_le_bytes());
        conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('clock_sync', ?1)",
            params![value.to_vec()],
        )?;
    }
    Ok(())
}

pub(crate) fn last_sync(conn: &Connection) -> Result<Option<(i64, i64)>> {
    let value: Option<Vec<u8>> = conn
        .query_row("SELECT value FROM meta WHERE key = 'clock_sync'", [], |r| {
            r.get(0)
        })
        .optional()?;
    Ok(value.and_then(|v| {
        let server = i64::from_le_bytes(v.get(..8)?.try_into().ok()?);
        let device = i64::from_le_bytes(v.get(8..16)?.try_into().ok()?);
        Some((server, device))
    }))
}

/// The estimated true time now, for this store.
pub(crate) fn estimated_now(conn: &Connection) -> Result<DateTime<Utc>> {
    let now = Utc::now();
    let estimated = estimate(last_sync(conn)?, now.timestamp());
    Ok(DateTime::from_timestamp(estimated, 0).unwrap_or(now))
}

/// Whether a time can be trusted at `estimated_now` (both Unix seconds).
pub fn trusted(at: i64, estimated_now: i64) -> bool {
    at <= estimated_now.saturating_add(TOLERANCE_SECS)
}

/// The latest visit of `visits` whose time is trusted (see the module docs) and that
/// `keep` accepts.
pub(crate) fn last_trusted_visit<'c>(
    conn: &Connection,
    visits: &'c [Keyed<Visit>],
    keep: impl Fn(&Visit) -> bool,
) -> Result<Option<&'c Keyed<Visit>>> {
    let now = estimated_now(conn)?.timestamp();
    Ok(visits
        .iter()
        .filter(|v| v.at.is_some_and(|t| trusted(t.timestamp(), now)) && keep(v))
        .max_by_key(|v| v.at))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_764_000_000;
    const TEN_YEARS: i64 = 10 * 365 * 86_400;

    #[test]
    fn a_clock_ten_years_ahead_is_corrected_by_the_last_server_time() {
        // At the last sync the device said 2036 while the server said 2026.
        let sync = Some((NOW, NOW + TEN_YEARS));
        assert_eq!(estimate(sync, NOW + TEN_YEARS + 60), NOW + 60);
        assert!(!trusted(NOW + TEN_YEARS, estimate(sync, NOW + TEN_YEARS)));
        assert!(trusted(NOW + 3600, estimate(sync, NOW + TEN_YEARS)));
    }

    /// What a store answers as "now" (the default time of a new visit) after a sync with a
    /// server ten years behind this device's clock: the server's time, not the device's.
    #[test]
    fn estimated_now_follows_the_last_server_time() {
        let conn = Connection::open_in_memory().expect("sqlite");
        conn.execute_batch("CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB)")
            .expect("meta");
        let device_now = Utc::now().timestamp();
        assert!((estimated_now(&conn).expect("now").timestamp() - device_now).abs() <= 5);
        let mut value = [0u8; 16];
        value[..8].copy_from_slice(&(device_now - TEN_YEARS).to_le_bytes());
        value[8..].copy_from_slice(&device_now.to_le_bytes());
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('clock_sync', ?1)",
            params![value.to_vec()],
        )
        .expect("clock_sync");
        let estimated = estimated_now(&conn).expect("now").timestamp();
        assert!(
            (estimated - (device_now - TEN_YEARS)).abs() <= 5,
            "{estimated}"
        );
    }

    #[test]
    fn a_corrected_clock_drops_the_old_offset_and_no_sync_trusts_the_device() {
        let sync = Some((NOW, NOW + TEN_YEARS));
        assert_eq!(estimate(sync, NOW + 5), NOW + 5);
        assert_eq!(estimate(None, NOW), NOW);
        assert!(!trusted(NOW + TOLERANCE_SECS + 1, NOW));
        assert!(trusted(NOW + TOLERANCE_SECS, NOW));
    }
}
