//! Cards, the change log and projections, as `sqlite/cards.rs`.

use super::{Transaction, pg, pos};
use crate::error::Result;

/// The next position of the log's sequence (shared with scope events and assignments).
/// `UPDATE … RETURNING` takes the `meta` row's lock until the transaction ends: no other
/// transaction gets a position before this one commits or rolls back, so positions
/// become visible in the order they were handed out. Take positions as late in a
/// transaction as possible: the lock serialises every writer of every instance.
pub(super) async fn next_position(tx: &Transaction<'_>) -> Result<u64> {
    next_positions(tx, 1).await
}

/// Takes `n` consecutive positions (n ≥ 1); returns the first.
pub(super) async fn next_positions(tx: &Transaction<'_>, n: u64) -> Result<u64> {
    let stmt = tx
        .prepare_cached("UPDATE meta SET head = head + $1 WHERE id = 1 RETURNING head")
        .await
        .map_err(pg)?;
    let n = i64::try_from(n.max(1)).unwrap_or(1);
    let head: i64 = tx.query_one(&stmt, &[&n]).await.map_err(pg)?.get(0);
    Ok(pos(head - n + 1))
}
