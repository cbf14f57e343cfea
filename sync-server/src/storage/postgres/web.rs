//! The dashboard's SQL: passwords, one-time login links, sessions, failed login attempts;
//! as `sqlite/web.rs`.
//!
//! Tokens (links, sessions) arrive here already hashed; a link is spent and a session
//! looked up with the caller's `now`, so expiry follows the server's clock. The one
//! read-then-write, spending a link, is a single conditional `UPDATE … RETURNING`, which
//! stays once-only across instances (see [`redeem_link`]).

use super::{GenericClient, Transaction, pg};
use crate::error::Result;
use crate::storage::{NewLoginLink, WebSession};

pub(super) async fn set_password(
    tx: &Transaction<'_>,
    person_id: &str,
    password_hash: &str,
    now: i64,
) -> Result<()> {
    let stmt = tx
        .prepare_cached(
            "INSERT INTO web_logins (person_id, password_hash, set_at) VALUES ($1, $2, $3) \
             ON CONFLICT (person_id) DO UPDATE SET password_hash = excluded.password_hash, \
             set_at = excluded.set_at",
        )
        .await
        .map_err(pg)?;
    tx.execute(&stmt, &[&person_id, &password_hash, &now])
        .await
        .map_err(pg)?;
    // A new password ends every session opened with the old one.
    let stmt = tx
        .prepare_cached("DELETE FROM web_sessions WHERE person_id = $1")
        .await
        .map_err(pg)?;
    tx.execute(&stmt, &[&person_id]).await.map_err(pg)?;
    Ok(())
}

pub(super) async fn password(c: &impl GenericClient, person_id: &str) -> Result<Option<String>> {
    let stmt = c
        .prepare_cached("SELECT password_hash FROM web_logins WHERE person_id = $1")
        .await
        .map_err(pg)?;
    c.query_opt(&stmt, &[&person_id])
        .await
        .map_err(pg)?
        .map(|r| r.try_get(0))
        .transpose()
        .map_err(pg)
}

pub(super) async fn create_link(tx: &Transaction<'_>, link: &NewLoginLink) -> Result<()> {
    let stmt = tx
        .prepare_cached(
            "INSERT INTO web_login_links (token_hash, person_id, expires_at) VALUES ($1, $2, $3)",
        )
        .await
        .map_err(pg)?;
    tx.execute(
        &stmt,
        &[&link.token_hash, &link.person_id, &link.expires_at],
    )
    .await
    .map_err(pg)?;
    Ok(())
}

pub(super) async fn redeem_link(
    tx: &Transaction<'_>,
    token_hash: &str,
    now: i64,
) -> Result<Option<String>> {
    // Once only across instances: a concurrent `UPDATE` of the same link waits for this
    // transaction's row lock, then re-checks its `WHERE` against the committed row, finds
    // `used` set and returns nothing.
    let stmt = tx
        .prepare_cached(
            "UPDATE web_login_links SET used = TRUE \
             WHERE token_hash = $1 AND NOT used AND expires_at > $2 RETURNING person_id",
        )
        .await
        .map_err(pg)?;
    tx.query_opt(&stmt, &[&token_hash, &now])
        .await
        .map_err(pg)?
        .map(|r| r.try_get(0))
        .transpose()
        .map_err(pg)
}

pub(super) async fn create_session(tx: &Transaction<'_>, s: &WebSession) -> Result<()> {
    // Expired sessions go when new ones come, so the table stays the size of the live ones.
    let stmt = tx
        .prepare_cached("DELETE FROM web_sessions WHERE expires_at <= $1")
        .await
        .map_err(pg)?;
    tx.execute(&stmt, &[&s.created_at]).await.map_err(pg)?;
    let stmt = tx
        .prepare_cached(
            "INSERT INTO web_sessions (token_hash, person_id, csrf_token, created_at, \
             expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .await
        .map_err(pg)?;
    tx.execute(
        &stmt,
        &[
            &s.token_hash,
            &s.person_id,
            &s.csrf_token,
            &s.created_at,
            &s.expires_at,
        ],
    )
    .await
    .map_err(pg)?;
    Ok(())
}

pub(super) async fn session(
    c: &impl GenericClient,
    token_hash: &str,
    now: i64,
) -> Result<Option<WebSession>> {
    let stmt = c
        .prepare_cached(
            "SELECT token_hash, person_id, csrf_token, created_at, expires_at \
             FROM web_sessions WHERE token_hash = $1 AND expires_at > $2",
        )
        .await
        .map_err(pg)?;
    c.query_opt(&stmt, &[&token_hash, &now])
        .await
        .map_err(pg)?
        .map(|r| {
            Ok(WebSession {
                token_hash: r.try_get(0)?,
                person_id: r.try_get(1)?,
                csrf_token: r.try_get(2)?,
                created_at: r.try_get(3)?,
                expires_at: r.try_get(4)?,
            })
        })
        .transpose()
        .map_err(pg)
}

pub(super) async fn delete_session(tx: &Transaction<'_>, token_hash: &str) -> Result<()> {
    let stmt = tx
        .prepare_cached("DELETE FROM web_sessions WHERE token_hash = $1")
        .await
        .map_err(pg)?;
    tx.execute(&stmt, &[&token_hash]).await.map_err(pg)?;
    Ok(())
}

pub(super) async fn record_failure(
    tx: &Transaction<'_>,
    person_id: &str,
    now: i64,
    window_secs: i64,
) -> Result<u32> {
    let since = now.saturating_sub(window_secs);
    let stmt = tx
        .prepare_cached("DELETE FROM web_login_failures WHERE person_id = $1 AND at <= $2")
        .await
        .map_err(pg)?;
    tx.execute(&stmt, &[&person_id, &since]).await.map_err(pg)?;
    let stmt = tx
        .prepare_cached("INSERT INTO web_login_failures (person_id, at) VALUES ($1, $2)")
        .await
        .map_err(pg)?;
    tx.execute(&stmt, &[&person_id, &now]).await.map_err(pg)?;
    // Counts this attempt and the committed ones; unlike SQLite's single writer, a
    // concurrent attempt on another instance that has not committed yet is not counted
    // (its own call counts it). Every attempt is stored either way, and the lockout is
    // decided by `count_failures` before the password is checked, not by this answer.
    count_failures(tx, person_id, since).await
}

pub(super) async fn count_failures(
    c: &impl GenericClient,
    person_id: &str,
    since: i64,
) -> Result<u32> {
    let stmt = c
        .prepare_cached("SELECT count(*) FROM web_login_failures WHERE person_id = $1 AND at > $2")
        .await
        .map_err(pg)?;
    let n: i64 = c
        .query_one(&stmt, &[&person_id, &since])
        .await
        .map_err(pg)?
        .try_get(0)
        .map_err(pg)?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

pub(super) async fn clear_failures(tx: &Transaction<'_>, person_id: &str) -> Result<()> {
    let stmt = tx
        .prepare_cached("DELETE FROM web_login_failures WHERE person_id = $1")
        .await
        .map_err(pg)?;
    tx.execute(&stmt, &[&person_id]).await.map_err(pg)?;
    Ok(())
}
