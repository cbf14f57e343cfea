//! The dashboard's SQL: passwords, one-time login links, sessions, failed login attempts.
//!
//! Tokens (links, sessions) arrive here already hashed; a link is spent and a session
//! looked up with the caller's `now`, so expiry follows the server's clock.

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::error::Result;
use crate::storage::{NewLoginLink, WebSession};

pub(super) fn set_password(
    tx: &Transaction<'_>,
    person_id: &str,
    password_hash: &str,
    now: i64,
) -> Result<()> {
    tx.execute(
        "INSERT INTO web_logins (person_id, password_hash, set_at) VALUES (?1, ?2, ?3) \
         ON CONFLICT (person_id) DO UPDATE SET password_hash = excluded.password_hash, \
         set_at = excluded.set_at",
        params![person_id, password_hash, now],
    )?;
    // A new password ends every session opened with the old one.
    tx.execute("DELETE FROM web_sessions WHERE person_id = ?1", [person_id])?;
    Ok(())
}

pub(super) fn password(c: &Connection, person_id: &str) -> Result<Option<String>> {
    Ok(c.query_row(
        "SELECT password_hash FROM web_logins WHERE person_id = ?1",
        [person_id],
        |r| r.get(0),
    )
    .optional()?)
}

pub(super) fn create_link(tx: &Transaction<'_>, link: &NewLoginLink) -> Result<()> {
    tx.execute(
        "INSERT INTO web_login_links (token_hash, person_id, expires_at) VALUES (?1, ?2, ?3)",
        params![link.token_hash, link.person_id, link.expires_at],
    )?;
    Ok(())
}

pub(super) fn redeem_link(
    tx: &Transaction<'_>,
    token_hash: &str,
    now: i64,
) -> Result<Option<String>> {
    let person: Option<String> = tx
        .query_row(
            "UPDATE web_login_links SET used = 1 \
             WHERE token_hash = ?1 AND used = 0 AND expires_at > ?2 RETURNING person_id",
            params![token_hash, now],
            |r| r.get(0),
        )
        .optional()?;
    Ok(person)
}

pub(super) fn create_session(tx: &Transaction<'_>, s: &WebSession) -> Result<()> {
    // Expired sessions go when new ones come, so the table stays the size of the live ones.
    tx.execute(
        "DELETE FROM web_sessions WHERE expires_at <= ?1",
        [s.created_at],
    )?;
    tx.execute(
        "INSERT INTO web_sessions (token_hash, person_id, csrf_token, created_at, expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            s.token_hash,
            s.person_id,
            s.csrf_token,
            s.created_at,
            s.expires_at
        ],
    )?;
    Ok(())
}

pub(super) fn session(c: &Connection, token_hash: &str, now: i64) -> Result<Option<WebSession>> {
    Ok(c.query_row(
        "SELECT token_hash, person_id, csrf_token, created_at, expires_at FROM web_sessions \
         WHERE token_hash = ?1 AND expires_at > ?2",
        params![token_hash, now],
        |r| {
            Ok(WebSession {
                token_hash: r.get(0)?,
                person_id: r.get(1)?,
                csrf_token: r.get(2)?,
                created_at: r.get(3)?,
                expires_at: r.get(4)?,
            })
        },
    )
    .optional()?)
}

pub(super) fn delete_session(tx: &Transaction<'_>, token_hash: &str) -> Result<()> {
    tx.execute(
        "DELETE FROM web_sessions WHERE token_hash = ?1",
        [token_hash],
    )?;
    Ok(())
}

pub(super) fn record_failure(
    tx: &Transaction<'_>,
    person_id: &str,
    now: i64,
    window_secs: i64,
) -> Result<u32> {
    let since = now.saturating_sub(window_secs);
    tx.execute(
        "DELETE FROM web_login_failures WHERE person_id = ?1 AND at <= ?2",
        params![person_id, since],
    )?;
    tx.execute(
        "INSERT INTO web_login_failures (person_id, at) VALUES (?1, ?2)",
        params![person_id, now],
    )?;
    count_failures(tx, person_id, since)
}

pub(super) fn count_failures(c: &Connection, person_id: &str, since: i64) -> Result<u32> {
    let n: i64 = c.query_row(
        "SELECT count(*) FROM web_login_failures WHERE person_id = ?1 AND at > ?2",
        params![person_id, since],
        |r| r.get(0),
    )?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

pub(super) fn clear_failures(tx: &Transaction<'_>, person_id: &str) -> Result<()> {
    tx.execute(
        "DELETE FROM web_login_failures WHERE person_id = ?1",
        [person_id],
    )?;
    Ok(())
}
