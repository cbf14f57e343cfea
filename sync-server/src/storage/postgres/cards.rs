//! Cards, the change log and projections, as `sqlite/cards.rs`, with the two things one
//! database under several instances needs:
//!
//! - **The optimistic check holds across instances.** The card row is read `FOR UPDATE`
//!   (a second instance writing the same card waits for this transaction, then sees the
//!   new `last_position` and answers `Conflict`); a new card is inserted first with
//!   `ON CONFLICT DO NOTHING`, so of two instances creating one card, the second finds the
//!   row taken and answers `Conflict` instead of overwriting it.
//! - **Positions in commit order.** Positions come from `meta.head` ([`next_positions`]),
//!   taken last in the transaction, after the read model's rows: the lock they take is
//!   held to commit and serialises every writer, so it is held for as few statements as
//!   possible. A transaction writing several cards takes all their positions at once.

use super::{GenericClient, Transaction, pg, pos, sql_pos};
use crate::error::{Error, Result};
use crate::storage::{CardCommit, CardSummary, CommitOutcome, NewChange, StoredCard};
use crate::storage::{join_heads, split_heads};

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

/// A card checked and its read model written, waiting for its positions.
struct Checked<'a> {
    commit: &'a CardCommit,
    /// The stored card's first position (`None`: a new card).
    first: Option<u64>,
    /// The card's current last position (`None`: a new card).
    last: Option<u64>,
    /// The changes the log does not hold yet.
    fresh: Vec<&'a NewChange>,
}

/// One card's write inside a transaction: nothing written on [`Error::Conflict`].
pub(super) async fn commit_one(tx: &Transaction<'_>, commit: &CardCommit) -> Result<CommitOutcome> {
    let mut outcomes = commit_cards(tx, std::slice::from_ref(commit)).await?;
    outcomes
        .pop()
        .unwrap_or_else(|| Err(Error::Internal("no outcome for the card".into())))
}

/// Several cards in one transaction: each card's outcome in its slot, a stale one
/// `Err(Conflict)` with nothing of it written; any other error fails the transaction.
pub(super) async fn commit_cards(
    tx: &Transaction<'_>,
    commits: &[CardCommit],
) -> Result<Vec<Result<CommitOutcome>>> {
    let mut text = super::manager::TextRows::default();
    let mut outcomes: Vec<Option<Result<CommitOutcome>>> = Vec::with_capacity(commits.len());
    let mut checked: Vec<(usize, Checked<'_>)> = Vec::new();
    // Cards an earlier entry of this batch moves: their positions are taken only at the
    // end, so the stored row does not show it yet; a later entry expecting the old
    // position is stale.
    let mut moved: std::collections::HashSet<&str> = std::collections::HashSet::new();
    // Cards are locked in id order (stable: one card's entries keep theirs), so two
    // instances writing overlapping pages cannot deadlock on each other's rows.
    let mut order: Vec<usize> = (0..commits.len()).collect();
    order.sort_by(|&a, &b| commits[a].card_id.cmp(&commits[b].card_id));
    outcomes.resize_with(commits.len(), || None);
    for slot in order {
        let commit = &commits[slot];
        let outcome = if moved.contains(commit.card_id.as_str()) {
            Some(Err(Error::Conflict))
        } else {
            match check(tx, commit).await? {
                Check::Stale => Some(Err(Error::Conflict)),
                Check::Nothing => Some(Ok(CommitOutcome {
                    appended: 0,
                    last_position: 0,
                })),
                Check::Write(c) => {
                    if !c.fresh.is_empty() {
                        moved.insert(commit.card_id.as_str());
                    }
                    super::manager::write_in_commit(tx, commit, &mut text).await?;
                    checked.push((slot, c));
                    None
                }
            }
        };
        if let Some(place) = outcomes.get_mut(slot) {
            *place = outcome;
        }
    }
    text.write(tx).await?;
    // Positions last (see the module's docs), for every card at once.
    let total: u64 = checked.iter().map(|(_, c)| c.fresh.len() as u64).sum();
    let mut next = if total > 0 {
        next_positions(tx, total).await?
    } else {
        0
    };
    let insert = tx
        .prepare_cached(
            "INSERT INTO change_log (position, card_id, hash, bytes, device_id, received_at, late) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .await
        .map_err(pg)?;
    let update = tx
        .prepare_cached(
            "UPDATE cards SET territory = $2, doc = $3, first_position = $4, \
             last_position = $5, heads = $6 WHERE card_id = $1",
        )
        .await
        .map_err(pg)?;
    for (slot, c) in checked {
        let commit = c.commit;
        let mut first = c.first;
        let mut last = c.last;
        for change in &c.fresh {
            let p = next;
            next += 1;
            tx.execute(
                &insert,
                &[
                    &sql_pos(p),
                    &commit.card_id,
                    &&change.hash[..],
                    &change.bytes,
                    &commit.device_id,
                    &commit.received_at,
                    &commit.late,
                ],
            )
            .await
            .map_err(pg)?;
            first.get_or_insert(p);
            last = Some(p);
        }
        let (Some(first), Some(last)) = (first, last) else {
            return Err(Error::Internal("a checked card has no position".into()));
        };
        tx.execute(
            &update,
            &[
                &commit.card_id,
                &commit.territory,
                &commit.doc,
                &sql_pos(first),
                &sql_pos(last),
                &join_heads(&commit.heads),
            ],
        )
        .await
        .map_err(pg)?;
        if let Some(outcome) = outcomes.get_mut(slot) {
            *outcome = Some(Ok(CommitOutcome {
                appended: c.fresh.len(),
                last_position: last,
            }));
        }
    }
    outcomes
        .into_iter()
        .map(|o| o.ok_or_else(|| Error::Internal("a card was left without an outcome".into())))
        .collect()
}

enum Check<'a> {
    /// Another writer moved the card: nothing written.
    Stale,
    /// A new card with no change: nothing to store.
    Nothing,
    /// To write: the card row is locked (or inserted) and the projection written.
    Write(Checked<'a>),
}

/// The optimistic check of one card, then what of it must be written before the
/// positions: the locked or newly inserted card row and the projection.
async fn check<'a>(tx: &Transaction<'_>, commit: &'a CardCommit) -> Result<Check<'a>> {
    let row = tx
        .query_opt(
            &tx.prepare_cached(
                "SELECT first_position, last_position FROM cards WHERE card_id = $1 FOR UPDATE",
            )
            .await
            .map_err(pg)?,
            &[&commit.card_id],
        )
        .await
        .map_err(pg)?;
    let current = row.map(|r| (pos(r.get(0)), pos(r.get(1))));
    if current.map(|(_, l)| l) != commit.expected_last_position {
        return Ok(Check::Stale);
    }
    let hashes: Vec<&[u8]> = commit.changes.iter().map(|c| &c.hash[..]).collect();
    let known: Vec<Vec<u8>> = tx
        .query(
            &tx.prepare_cached("SELECT hash FROM change_log WHERE hash = ANY($1)")
                .await
                .map_err(pg)?,
            &[&hashes],
        )
        .await
        .map_err(pg)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut seen: Vec<&[u8]> = Vec::new();
    let fresh: Vec<&NewChange> = commit
        .changes
        .iter()
        .filter(|c| {
            let new = !known.iter().any(|k| k[..] == c.hash[..]) && !seen.contains(&&c.hash[..]);
            seen.push(&c.hash[..]);
            new
        })
        .collect();
    let Some((first, last)) = current else {
        if fresh.is_empty() {
            return Ok(Check::Nothing);
        }
        // Positions are not known yet: 0 until the update at the end of the transaction.
        let inserted = tx
            .execute(
                &tx.prepare_cached(
                    "INSERT INTO cards (card_id, territory, doc, first_position, last_position, heads) \
                     VALUES ($1, $2, $3, 0, 0, $4) ON CONFLICT (card_id) DO NOTHING",
                )
                .await
                .map_err(pg)?,
                &[
                    &commit.card_id,
                    &commit.territory,
                    &commit.doc,
                    &join_heads(&commit.heads),
                ],
            )
            .await
            .map_err(pg)?;
        if inserted == 0 {
            // Another instance created it since the caller read it.
            return Ok(Check::Stale);
        }
        write_projection(tx, commit).await?;
        return Ok(Check::Write(Checked {
            commit,
            first: None,
            last: None,
            fresh,
        }));
    };
    write_projection(tx, commit).await?;
    Ok(Check::Write(Checked {
        commit,
        first: Some(first),
        last: Some(last),
        fresh,
    }))
}

async fn write_projection(tx: &Transaction<'_>, commit: &CardCommit) -> Result<()> {
    tx.execute(
        &tx.prepare_cached(
            "INSERT INTO projections (card_id, territory, fields) VALUES ($1, $2, $3) \
             ON CONFLICT (card_id) DO UPDATE SET territory = excluded.territory, \
             fields = excluded.fields",
        )
        .await
        .map_err(pg)?,
        &[&commit.card_id, &commit.territory, &commit.projection],
    )
    .await
    .map_err(pg)?;
    Ok(())
}

fn summary_row(r: &tokio_postgres::Row) -> CardSummary {
    CardSummary {
        card_id: r.get(0),
        territory: r.get(1),
        first_position: pos(r.get(2)),
        last_position: pos(r.get(3)),
        heads: split_heads(r.get(4)),
    }
}

pub(super) async fn head_position(c: &impl GenericClient) -> Result<u64> {
    let row = c
        .query_one("SELECT head FROM meta WHERE id = 1", &[])
        .await
        .map_err(pg)?;
    Ok(pos(row.get(0)))
}

pub(super) async fn log_len(c: &impl GenericClient) -> Result<u64> {
    let row = c
        .query_one("SELECT count(*) FROM change_log", &[])
        .await
        .map_err(pg)?;
    Ok(pos(row.get(0)))
}

pub(super) async fn card(c: &impl GenericClient, card_id: &str) -> Result<Option<StoredCard>> {
    let stmt = c
        .prepare_cached(
            "SELECT card_id, territory, doc, first_position, last_position, heads FROM cards \
             WHERE card_id = $1",
        )
        .await
        .map_err(pg)?;
    Ok(c.query_opt(&stmt, &[&card_id])
        .await
        .map_err(pg)?
        .map(|r| StoredCard {
            card_id: r.get(0),
            territory: r.get(1),
            doc: r.get(2),
            first_position: pos(r.get(3)),
            last_position: pos(r.get(4)),
            heads: split_heads(r.get(5)),
        }))
}

pub(super) async fn cards_changed_by_others(
    c: &impl GenericClient,
    territories: &[String],
    after: u64,
    upto: u64,
    exclude_device: &str,
) -> Result<Vec<CardSummary>> {
    if territories.is_empty() {
        return Ok(Vec::new());
    }
    let stmt = c
        .prepare_cached(
            "SELECT c.card_id, c.territory, c.first_position, c.last_position, c.heads FROM cards c \
             WHERE c.territory = ANY($4) AND c.last_position > $1 AND EXISTS ( \
               SELECT 1 FROM change_log l WHERE l.card_id = c.card_id AND l.position > $1 \
               AND l.position <= $2 AND l.device_id <> $3) \
             ORDER BY c.last_position, c.card_id",
        )
        .await
        .map_err(pg)?;
    let rows = c
        .query(
            &stmt,
            &[
                &sql_pos(after),
                &sql_pos(upto),
                &exclude_device,
                &territories,
            ],
        )
        .await
        .map_err(pg)?;
    Ok(rows.iter().map(summary_row).collect())
}

pub(super) async fn cards_in_territories(
    c: &impl GenericClient,
    territories: &[String],
) -> Result<Vec<CardSummary>> {
    if territories.is_empty() {
        return Ok(Vec::new());
    }
    let stmt = c
        .prepare_cached(
            "SELECT card_id, territory, first_position, last_position, heads FROM cards \
             WHERE territory = ANY($1) ORDER BY last_position, card_id",
        )
        .await
        .map_err(pg)?;
    let rows = c.query(&stmt, &[&territories]).await.map_err(pg)?;
    Ok(rows.iter().map(summary_row).collect())
}

pub(super) async fn changes_by_others(
    c: &impl GenericClient,
    card_id: &str,
    after: u64,
    upto: u64,
    exclude_device: &str,
) -> Result<Vec<Vec<u8>>> {
    let stmt = c
        .prepare_cached(
            "SELECT bytes FROM change_log WHERE card_id = $1 AND position > $2 \
             AND position <= $3 AND device_id <> $4 ORDER BY position",
        )
        .await
        .map_err(pg)?;
    let rows = c
        .query(
            &stmt,
            &[&card_id, &sql_pos(after), &sql_pos(upto), &exclude_device],
        )
        .await
        .map_err(pg)?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

pub(super) async fn projection(c: &impl GenericClient, card_id: &str) -> Result<Option<String>> {
    Ok(c.query_opt(
        "SELECT fields FROM projections WHERE card_id = $1",
        &[&card_id],
    )
    .await
    .map_err(pg)?
    .map(|r| r.get(0)))
}

pub(super) async fn projections_after(
    c: &impl GenericClient,
    territories: Option<&[String]>,
    after: &str,
    limit: u32,
) -> Result<Vec<(String, String)>> {
    let limit = i64::from(limit);
    let rows = match territories {
        None => {
            let stmt = c
                .prepare_cached(
                    "SELECT card_id, fields FROM projections WHERE card_id > $1 \
                     ORDER BY card_id LIMIT $2",
                )
                .await
                .map_err(pg)?;
            c.query(&stmt, &[&after, &limit]).await.map_err(pg)?
        }
        Some(ts) => {
            let stmt = c
                .prepare_cached(
                    "SELECT card_id, fields FROM projections WHERE card_id > $1 \
                     AND territory = ANY($3) ORDER BY card_id LIMIT $2",
                )
                .await
                .map_err(pg)?;
            c.query(&stmt, &[&after, &limit, &ts]).await.map_err(pg)?
        }
    };
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}
