//! The manager's read model in SQLite: the card index (`manager_cards`, its tags and two
//! FTS5 tables laid out as a device's store lays out its own, so the same search matches
//! the same cards), one classified row per accepted change (`manager_changes`), which the
//! card history reads, and the activity rollup (`manager_activity`: per person, day,
//! territory and card, the sums of the change rows), which the activity report reads.
//! Rows are written in the card commit's transaction ([`write_in_commit`]), so they can
//! never disagree with the documents; the rollup is rewritten from the card's change rows
//! at each commit, so it can never disagree with them.

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, Transaction, params, params_from_iter};

use super::{pos, sql_pos};
use crate::error::{Error, Result};
use crate::storage::activity_calendar::{DAY_SECS, ROLLUP_UTC_OFFSET_SECS, buckets};
use crate::storage::{
    ActivityCount, ActivityRange, AnalysisRow, CardCommit, CardIndexRow, ChangeRow, DeviceLabel,
    IndexQuery, IndexSort, IndexedCard, LoggedChange, Period, Role,
};

/// Writes the index row of a committed card and its new classified changes (inside the
/// commit's transaction, after the log entries); its full-text rows wait in `text`.
pub(super) fn write_in_commit(
    tx: &Transaction<'_>,
    commit: &CardCommit,
    text: &mut TextRows,
) -> Result<()> {
    write_index(tx, &commit.card_id, &commit.territory, &commit.index, text)?;
    write_changes(tx, &commit.card_id, &commit.territory, &commit.change_rows)
}

pub(super) fn write_read_model(
    tx: &Transaction<'_>,
    card_id: &str,
    territory: &str,
    index: &CardIndexRow,
    rows: &[ChangeRow],
) -> Result<()> {
    let mut text = TextRows::default();
    write_index(tx, card_id, territory, index, &mut text)?;
    write_changes(tx, card_id, territory, rows)?;
    text.write(tx)
}

/// Full-text rows waiting for the end of a transaction, as on the device
/// (`fieldbook_core`'s store, `index::TextRows`): FTS5 writes its pending rows out as a
/// segment whenever a statement of the transaction opens a statement journal (the
/// activity roll-up's `INSERT … SELECT`, an upsert), so rows written between a card's
/// other rows made one tiny segment per card of a push, and their flushing was a seventh
/// of an upload's time. Queued and written last, they are one segment per transaction.
#[derive(Default)]
pub(super) struct TextRows(Vec<(i64, bool, String, String)>);

impl TextRows {
    /// Writes the queued rows. Call it after the transaction's other statements.
    pub(super) fn write(self, tx: &Transaction<'_>) -> Result<()> {
        for (num, replace, full, grams) in &self.0 {
            if *replace {
                tx.prepare_cached("DELETE FROM manager_fts WHERE rowid = ?1")?
                    .execute([num])?;
                tx.prepare_cached("DELETE FROM manager_grams WHERE rowid = ?1")?
                    .execute([num])?;
            }
            tx.prepare_cached("INSERT INTO manager_fts (rowid, body) VALUES (?1, ?2)")?
                .execute(params![num, full])?;
            tx.prepare_cached("INSERT INTO manager_grams (rowid, grams) VALUES (?1, ?2)")?
                .execute(params![num, grams])?;
        }
        Ok(())
    }
}

fn write_index(
    tx: &Transaction<'_>,
    card_id: &str,
    territory: &str,
    row: &CardIndexRow,
    text: &mut TextRows,
) -> Result<()> {
    let previous: Option<(i64, i64, Vec<u8>)> = tx
        .prepare_cached(
            "SELECT num, updated_at, search_hash FROM manager_cards WHERE card_id = ?1",
        )?
        .query_row([card_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    let search_hash = text_hash(row);
    // A card's last change time never goes back (a late, older change does not make the
    // card look untouched since).
    let updated_at = previous
        .as_ref()
        .map_or(row.updated_at, |p| p.1.max(row.updated_at));
    let num: i64 = tx
        .prepare_cached(
            "INSERT INTO manager_cards (card_id, territory, name, sort_key, class, phone, city, \
             updated_at, last_visit_at, conflicts, search_hash, lean, stages, model_version) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, 1) \
             ON CONFLICT (card_id) DO UPDATE SET territory = excluded.territory, \
             name = excluded.name, sort_key = excluded.sort_key, class = excluded.class, \
             phone = excluded.phone, city = excluded.city, updated_at = excluded.updated_at, \
             last_visit_at = excluded.last_visit_at, conflicts = excluded.conflicts, \
             search_hash = excluded.search_hash, lean = excluded.lean, \
             stages = excluded.stages, model_version = manager_cards.model_version + 1 \
             RETURNING num",
        )?
        .query_row(
            params![
                card_id,
                territory,
                row.name,
                row.sort_key,
                row.class,
                row.phone,
                row.city,
                updated_at,
                row.last_visit_at,
                i64::from(row.conflicts),
                &search_hash[..],
                row.lean,
                row.stages,
            ],
            |r| r.get(0),
        )?;
    tx.prepare_cached("DELETE FROM manager_card_tags WHERE num = ?1")?
        .execute([num])?;
    {
        let mut tag = tx
            .prepare_cached("INSERT OR IGNORE INTO manager_card_tags (tag, num) VALUES (?1, ?2)")?;
        for t in &row.tags {
            tag.execute(params![t, num])?;
        }
    }
    // Most edits leave the searchable text alone: the FTS rows are rewritten only when it
    // changed.
    let text_changed = previous.as_ref().is_none_or(|p| p.2 != search_hash);
    if text_changed {
        // A card twice in one transaction: its earlier queued rows are replaced.
        text.0.retain(|(n, ..)| *n != num);
        text.0.push((
            num,
            previous.is_some(),
            row.search_full.clone(),
            row.search_grams.clone(),
        ));
    }
    Ok(())
}

/// A fingerprint of a card's searchable text, to tell whether its FTS rows need writing.
fn text_hash(row: &CardIndexRow) -> [u8; 16] {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(row.search_full.as_bytes());
    hasher.update([0]);
    hasher.update(row.search_grams.as_bytes());
    let digest = hasher.finalize();
    let mut out = [0u8; 16];
    out.copy_from_slice(&digest[..16]);
    out
}

fn write_changes(
    tx: &Transaction<'_>,
    card_id: &str,
    territory: &str,
    rows: &[ChangeRow],
) -> Result<()> {
    // A change already recorded keeps its row (its activity time is the one of its first
    // receipt); only the counts core derives from the document are brought up to date,
    // which is how rows from before a count existed get it (`reclassify`).
    let mut insert = tx.prepare_cached(
        "INSERT INTO manager_changes (hash, card_id, territory, person_id, actor, \
         device_time, at, created, visits, stages, fields, contracts, orders) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) \
         ON CONFLICT (hash) DO UPDATE SET contracts = excluded.contracts, \
         orders = excluded.orders \
         WHERE contracts != excluded.contracts OR orders != excluded.orders",
    )?;
    let mut inserted = 0;
    for c in rows {
        inserted += insert.execute(params![
            &c.hash[..],
            card_id,
            territory,
            c.person_id,
            c.actor,
            c.device_time,
            c.at,
            c.created,
            i64::from(c.visits),
            i64::from(c.stages),
            c.fields.join("\n"),
            i64::from(c.contracts),
            i64::from(c.orders),
        ])?;
    }
    if inserted > 0 {
        roll_up_card(tx, card_id)?;
    }
    tx.prepare_cached("DELETE FROM manager_reclassify WHERE card_id = ?1")?
        .execute([card_id])?;
    Ok(())
}

/// Brings a card's rows of the activity rollup up to date with its change rows: the
/// rollup is a projection of `manager_changes` (recomputed, never incremented), so a
/// change row counts exactly once however often its commit is retried. A card has at most
/// a few thousand change rows; they are read through `manager_changes_card`.
///
/// Every row is recomputed but only rows whose values changed are written (an upsert
/// that updates nothing when nothing differs): a push of today's edit to a card with a
/// year of history rewrites today's row, not the year's, which is most of the pages a
/// commit dirties. No row has to be deleted: a change row keeps its person, time and
/// territory once written (only its counts are brought up to date), so a day that had
/// activity keeps it.
fn roll_up_card(tx: &Transaction<'_>, card_id: &str) -> Result<()> {
    // As schema 7 fills it: the day is floor((at + 8 h) / 1 day) (SQLite's `/` truncates
    // toward zero); a week starts on the Monday on or before the day. `WHERE true` tells
    // the parser the `ON CONFLICT` belongs to the `INSERT`, not to a join.
    tx.prepare_cached(
        "WITH days AS (\
         SELECT person_id, (at + 28800) / 86400 - ((at + 28800) % 86400 < 0) AS d, territory, \
         card_id, count(*) AS n, sum(visits) AS v, sum(created) AS c, sum(stages) AS s, \
         sum(created = 0) AS e, sum(contracts) AS k, sum(orders) AS o FROM manager_changes \
         WHERE card_id = ?1 AND person_id IS NOT NULL GROUP BY person_id, d, territory) \
         INSERT INTO manager_activity (person_id, day, territory, card_id, changes, visits, \
         created, stages, edits, week_first, month_first, contracts, orders) \
         SELECT person_id, d, territory, card_id, n, v, c, s, e, \
         e > 0 AND row_number() OVER (PARTITION BY person_id, e > 0, \
         d - ((d + 3) % 7 + 7) % 7 ORDER BY d, territory) = 1, \
         e > 0 AND row_number() OVER (PARTITION BY person_id, e > 0, \
         date(d * 86400, 'unixepoch', 'start of month') ORDER BY d, territory) = 1, k, o \
         FROM days WHERE true \
         ON CONFLICT (person_id, day, territory, card_id) DO UPDATE SET \
         changes = excluded.changes, visits = excluded.visits, created = excluded.created, \
         stages = excluded.stages, edits = excluded.edits, week_first = excluded.week_first, \
         month_first = excluded.month_first, contracts = excluded.contracts, \
         orders = excluded.orders \
         WHERE (changes, visits, created, stages, edits, week_first, month_first, contracts, \
         orders) IS NOT (excluded.changes, excluded.visits, excluded.created, \
         excluded.stages, excluded.edits, excluded.week_first, excluded.month_first, \
         excluded.contracts, excluded.orders)",
    )?
    .execute([card_id])?;
    Ok(())
}

const CARD_COLUMNS: &str = "c.card_id, c.territory, t.owner, c.name, c.sort_key, c.class, \
    c.phone, c.city, c.updated_at, c.last_visit_at, c.conflicts, \
    (SELECT group_concat(tag, char(10)) FROM manager_card_tags g WHERE g.num = c.num)";

fn indexed_card(r: &rusqlite::Row<'_>) -> rusqlite::Result<IndexedCard> {
    let tags: Option<String> = r.get(11)?;
    let mut tags: Vec<String> = tags
        .map(|t| t.split('\n').map(str::to_owned).collect())
        .unwrap_or_default();
    tags.sort();
    Ok(IndexedCard {
        card_id: r.get(0)?,
        territory: r.get(1)?,
        owner: r.get(2)?,
        row: CardIndexRow {
            name: r.get(3)?,
            sort_key: r.get(4)?,
            class: r.get(5)?,
            tags,
            phone: r.get(6)?,
            city: r.get(7)?,
            updated_at: r.get(8)?,
            last_visit_at: r.get(9)?,
            conflicts: u32::try_from(r.get::<_, i64>(10)?).unwrap_or(0),
            // Not read back for lists (the analyses read them with `analysis_rows_*`).
            search_full: String::new(),
            search_grams: String::new(),
            lean: String::new(),
            stages: String::new(),
        },
    })
}

/// `?n` placeholders for a list, numbered from `first`.
fn placeholders(n: usize, first: usize) -> String {
    (first..first + n)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(",")
}

pub(super) fn index_cards(c: &Connection, q: &IndexQuery) -> Result<(Vec<IndexedCard>, u64)> {
    let mut args: Vec<SqlValue> = Vec::new();
    let mut filter = String::from(" WHERE 1 = 1");
    if let Some(territories) = &q.territories {
        if territories.is_empty() {
            return Ok((Vec::new(), 0));
        }
        filter.push_str(&format!(
            " AND c.territory IN ({})",
            placeholders(territories.len(), 1)
        ));
        args.extend(territories.iter().cloned().map(SqlValue::Text));
    }
    let mut arg = |filter: &mut String, clause: &str, value: SqlValue| {
        args.push(value);
        filter.push_str(&clause.replace('$', &format!("?{}", args.len())));
    };
    if let Some(class) = &q.class {
        arg(
            &mut filter,
            " AND c.class = $",
            SqlValue::Text(class.clone()),
        );
    }
    if let Some(tag) = &q.tag {
        arg(
            &mut filter,
            " AND c.num IN (SELECT num FROM manager_card_tags WHERE tag = $)",
            SqlValue::Text(tag.clone()),
        );
    }
    if let Some(owner) = &q.owner {
        arg(
            &mut filter,
            " AND c.territory IN (SELECT id FROM territories WHERE owner = $)",
            SqlValue::Text(owner.clone()),
        );
    }
    if q.conflicted {
        filter.push_str(" AND c.conflicts > 0");
    }
    for (trigram, expr) in &q.matches {
        let clause = if *trigram {
            " AND c.num IN (SELECT rowid FROM manager_fts WHERE manager_fts MATCH $)"
        } else {
            " AND c.num IN (SELECT rowid FROM manager_grams WHERE manager_grams MATCH $)"
        };
        arg(&mut filter, clause, SqlValue::Text(expr.clone()));
    }
    let total: i64 = c
        .prepare(&format!("SELECT count(*) FROM manager_cards c{filter}"))?
        .query_row(params_from_iter(args.iter()), |r| r.get(0))?;
    // SQLite puts NULLs first ascending and last descending: what each sort wants in its
    // natural direction (a card never visited sorts last by last visit).
    let (order, natural_desc) = match q.sort {
        IndexSort::Name => ("c.sort_key", false),
        IndexSort::Updated => ("c.updated_at", true),
        IndexSort::LastVisit => ("c.last_visit_at", true),
        IndexSort::Conflicts => ("c.conflicts", true),
    };
    let dir = if natural_desc != q.reverse {
        "DESC"
    } else {
        "ASC"
    };
    let mut sql = format!(
        "SELECT {CARD_COLUMNS} FROM manager_cards c LEFT JOIN territories t \
         ON t.id = c.territory{filter} ORDER BY {order} {dir}"
    );
    if q.sort != IndexSort::Name {
        sql.push_str(&format!(", c.sort_key {dir}"));
    }
    // Ties break on the card id, so pages never overlap or skip a card.
    sql.push_str(&format!(", c.card_id {dir}"));
    sql.push_str(&format!(" LIMIT {} OFFSET {}", q.limit, sql_pos(q.offset)));
    let rows = c
        .prepare(&sql)?
        .query_map(params_from_iter(args.iter()), indexed_card)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok((rows, pos(total)))
}

pub(super) fn index_card(c: &Connection, card_id: &str) -> Result<Option<IndexedCard>> {
    Ok(c.prepare_cached(&format!(
        "SELECT {CARD_COLUMNS} FROM manager_cards c LEFT JOIN territories t \
         ON t.id = c.territory WHERE c.card_id = ?1"
    ))?
    .query_row([card_id], indexed_card)
    .optional()?)
}

pub(super) fn card_changes(
    c: &Connection,
    card_id: &str,
    offset: u64,
    limit: u32,
) -> Result<(Vec<LoggedChange>, u64)> {
    let total: i64 = c
        .prepare_cached("SELECT count(*) FROM manager_changes WHERE card_id = ?1")?
        .query_row([card_id], |r| r.get(0))?;
    let rows = c
        .prepare_cached(
            "SELECT m.hash, m.person_id, m.actor, m.device_time, m.at, m.created, m.visits, \
             m.stages, m.fields, l.device_id, l.received_at, l.late, m.contracts, m.orders \
             FROM manager_changes m JOIN change_log l ON l.hash = m.hash \
             WHERE m.card_id = ?1 ORDER BY l.position DESC LIMIT ?2 OFFSET ?3",
        )?
        .query_map(params![card_id, i64::from(limit), sql_pos(offset)], |r| {
            let hash: Vec<u8> = r.get(0)?;
            let fields: String = r.get(8)?;
            Ok(LoggedChange {
                change: ChangeRow {
                    hash: <[u8; 32]>::try_from(hash.as_slice()).unwrap_or([0; 32]),
                    person_id: r.get(1)?,
                    actor: r.get(2)?,
                    device_time: r.get(3)?,
                    at: r.get(4)?,
                    created: r.get(5)?,
                    visits: u32::try_from(r.get::<_, i64>(6)?).unwrap_or(0),
                    stages: u32::try_from(r.get::<_, i64>(7)?).unwrap_or(0),
                    contracts: u32::try_from(r.get::<_, i64>(12)?).unwrap_or(0),
                    orders: u32::try_from(r.get::<_, i64>(13)?).unwrap_or(0),
                    fields: if fields.is_empty() {
                        Vec::new()
                    } else {
                        fields.split('\n').map(str::to_owned).collect()
                    },
                },
                device_id: r.get(9)?,
                received_at: r.get(10)?,
                late: r.get(11)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok((rows, pos(total)))
}

pub(super) fn device_labels(c: &Connection, actors: &[Vec<u8>]) -> Result<Vec<DeviceLabel>> {
    let mut stmt = c.prepare_cached(
        "SELECT a.actor, d.id, d.name, d.role, d.person_id FROM device_actors a \
         JOIN devices d ON d.id = a.device_id WHERE a.actor = ?1",
    )?;
    let mut out = Vec::new();
    for actor in actors {
        let row: Option<(Vec<u8>, String, String, String, String)> = stmt
            .query_row([actor], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .optional()?;
        if let Some((actor, device_id, name, role, person_id)) = row {
            out.push(DeviceLabel {
                actor,
                device_id,
                name,
                role: Role::parse(&role)
                    .map_err(|_| Error::Storage(format!("bad role {role:?}")))?,
                person_id,
            });
        }
    }
    Ok(out)
}

/// Activity per person per bucket, one query per bucket grouped by person only (the
/// `(person, time)` key's order serves the grouping: no sort, and a temporary set holds
/// only one person's distinct cards of one bucket). A range of whole days of the rollup's
/// calendar for a list of people (what the activity report asks) is summed from the
/// rollup; any other range (another calendar, a rolling window such as the team page's
/// last 24 hours) is counted from the change rows, through the covering
/// `manager_changes_activity` index. Both count the same rows the same way: the rollup is
/// those rows grouped by local day.
pub(super) fn activity_counts(c: &Connection, q: &ActivityRange) -> Result<Vec<ActivityCount>> {
    let Some(buckets) = buckets(q) else {
        return counted_in_one_query(c, q);
    };
    let rolled_up = q.people.is_some()
        && q.utc_offset_secs == ROLLUP_UTC_OFFSET_SECS
        && buckets.iter().all(|b| {
            (b.from + ROLLUP_UTC_OFFSET_SECS) % DAY_SECS == 0
                && (b.to + ROLLUP_UTC_OFFSET_SECS) % DAY_SECS == 0
        });
    // For every territory, a bucket from its first day counts its edited cards by the
    // first-of-bucket marks; a scope of some territories counts them distinct (a card moved
    // between territories has its first mark in one of them only).
    let marks = match q.period {
        Period::Day => None,
        Period::Week => Some("week_first"),
        Period::Month => Some("month_first"),
    }
    .filter(|_| rolled_up && q.territories.is_none());
    let (sums, source, time) = if rolled_up {
        (
            "sum(changes), sum(visits), sum(created), \
             count(DISTINCT CASE WHEN edits > 0 THEN card_id END), sum(stages), \
             sum(contracts), sum(orders)",
            "manager_activity",
            "day",
        )
    } else {
        (
            "count(*), sum(visits), sum(created), \
             count(DISTINCT CASE WHEN created = 0 THEN card_id END), sum(stages), \
             sum(contracts), sum(orders)",
            "manager_changes",
            "at",
        )
    };
    let mut args: Vec<SqlValue> = vec![SqlValue::Integer(0), SqlValue::Integer(0)];
    let mut filter = String::new();
    for (column, list) in [("person_id", &q.people), ("territory", &q.territories)] {
        if let Some(list) = list {
            if list.is_empty() {
                return Ok(Vec::new());
            }
            filter.push_str(&format!(
                " AND {column} IN ({})",
                placeholders(list.len(), args.len() + 1)
            ));
            args.extend(list.iter().cloned().map(SqlValue::Text));
        }
    }
    let sql = |sums: &str| {
        format!(
            "SELECT person_id, {sums} FROM {source} \
             WHERE {time} >= ?1 AND {time} < ?2 AND person_id IS NOT NULL{filter} \
             GROUP BY person_id ORDER BY person_id"
        )
    };
    let mut distinct = c.prepare(&sql(sums))?;
    let mut marked = match marks {
        Some(mark) => Some(c.prepare(&sql(&format!(
            "sum(changes), sum(visits), sum(created), sum({mark}), sum(stages), \
             sum(contracts), sum(orders)"
        )))?),
        None => None,
    };
    let mut out = Vec::new();
    for b in buckets {
        let (from, to) = if rolled_up {
            (
                (b.from + ROLLUP_UTC_OFFSET_SECS) / DAY_SECS,
                (b.to + ROLLUP_UTC_OFFSET_SECS) / DAY_SECS,
            )
        } else {
            (b.from, b.to)
        };
        args[0] = SqlValue::Integer(from);
        args[1] = SqlValue::Integer(to);
        let stmt = match marked.as_mut() {
            Some(marked) if b.whole_start => marked,
            _ => &mut distinct,
        };
        let rows = stmt.query_map(params_from_iter(args.iter()), |r| {
            Ok(ActivityCount {
                person_id: r.get(0)?,
                bucket: b.label.clone(),
                changes: pos(r.get(1)?),
                visits: pos(r.get(2)?),
                new_customers: pos(r.get(3)?),
                cards_updated: pos(r.get(4)?),
                stages_moved: pos(r.get(5)?),
                contracts: pos(r.get(6)?),
                orders: pos(r.get(7)?),
            })
        })?;
        for row in rows {
            out.push(row?);
        }
    }
    out.sort_by(|a, b| (&a.person_id, &a.bucket).cmp(&(&b.person_id, &b.bucket)));
    Ok(out)
}

/// The whole range in one `GROUP BY` over the change rows (bucketed by SQLite's date
/// functions): for ranges of more buckets than are worth a query each.
fn counted_in_one_query(c: &Connection, q: &ActivityRange) -> Result<Vec<ActivityCount>> {
    // Buckets follow the local calendar: shift to local time, then take the day, the
    // Monday on or before it, or the first of the month.
    let bucket = match q.period {
        Period::Day => "date(at + ?1, 'unixepoch')",
        Period::Week => "date(at + ?1, 'unixepoch', '-6 days', 'weekday 1')",
        Period::Month => "date(at + ?1, 'unixepoch', 'start of month')",
    };
    let mut args: Vec<SqlValue> = vec![
        SqlValue::Integer(q.utc_offset_secs),
        SqlValue::Integer(q.from),
        SqlValue::Integer(q.to),
    ];
    let mut filter = String::from(" WHERE at >= ?2 AND at < ?3 AND person_id IS NOT NULL");
    for (column, list) in [("territory", &q.territories), ("person_id", &q.people)] {
        if let Some(list) = list {
            if list.is_empty() {
                return Ok(Vec::new());
            }
            filter.push_str(&format!(
                " AND {column} IN ({})",
                placeholders(list.len(), args.len() + 1)
            ));
            args.extend(list.iter().cloned().map(SqlValue::Text));
        }
    }
    let sql = format!(
        "SELECT person_id, {bucket} AS b, count(*), sum(visits), sum(created), \
         count(DISTINCT CASE WHEN created = 0 THEN card_id END), sum(stages), \
         sum(contracts), sum(orders) \
         FROM manager_changes{filter} GROUP BY person_id, b ORDER BY person_id, b"
    );
    let rows = c
        .prepare(&sql)?
        .query_map(params_from_iter(args.iter()), |r| {
            Ok(ActivityCount {
                person_id: r.get(0)?,
                bucket: r.get(1)?,
                changes: pos(r.get(2)?),
                visits: pos(r.get(3)?),
                new_customers: pos(r.get(4)?),
                cards_updated: pos(r.get(5)?),
                stages_moved: pos(r.get(6)?),
                contracts: pos(r.get(7)?),
                orders: pos(r.get(8)?),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

pub(super) fn open_conflicts_by_territory(c: &Connection) -> Result<Vec<(String, u64)>> {
    let rows = c
        .prepare_cached(
            "SELECT territory, sum(conflicts) FROM manager_cards WHERE conflicts > 0 \
             GROUP BY territory ORDER BY territory",
        )?
        .query_map([], |r| Ok((r.get(0)?, pos(r.get(1)?))))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

pub(super) fn held_counts_by_person(c: &Connection) -> Result<Vec<(String, u64)>> {
    let rows = c
        .prepare_cached(
            "SELECT person_id, count(*) FROM held_changes WHERE status = 'pending' \
             GROUP BY person_id ORDER BY person_id",
        )?
        .query_map([], |r| Ok((r.get(0)?, pos(r.get(1)?))))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

pub(super) fn cards_without_index(c: &Connection, after: &str, limit: u32) -> Result<Vec<String>> {
    let rows = c
        .prepare_cached(
            "SELECT card_id FROM cards WHERE card_id > ?1 \
             AND card_id NOT IN (SELECT card_id FROM manager_cards) ORDER BY card_id LIMIT ?2",
        )?
        .query_map(params![after, i64::from(limit)], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(rows)
}

/// Up to `limit` cards whose change rows predate a count core now derives (schema 9's
/// contracts and orders), by id, after `after`.
pub(super) fn analysis_rows_after(
    c: &Connection,
    territories: Option<&[String]>,
    after: &str,
    limit: u32,
    with_bodies: bool,
) -> Result<Vec<AnalysisRow>> {
    let columns = if with_bodies {
        "card_id, model_version, lean, stages"
    } else {
        "card_id, model_version, '', ''"
    };
    let map = |r: &rusqlite::Row<'_>| {
        Ok(AnalysisRow {
            card_id: r.get(0)?,
            version: r.get(1)?,
            lean: r.get(2)?,
            stages: r.get(3)?,
        })
    };
    let rows = match territories {
        None => c
            .prepare_cached(&format!(
                "SELECT {columns} FROM manager_cards WHERE card_id > ?1 ORDER BY card_id LIMIT ?2"
            ))?
            .query_map(params![after, i64::from(limit)], map)?
            .collect::<rusqlite::Result<Vec<_>>>()?,
        Some(ts) => {
            let ts = serde_json::to_string(ts).map_err(|e| Error::Internal(e.to_string()))?;
            c.prepare_cached(&format!(
                "SELECT {columns} FROM manager_cards WHERE card_id > ?1 \
                 AND territory IN (SELECT value FROM json_each(?3)) \
                 ORDER BY card_id LIMIT ?2"
            ))?
            .query_map(params![after, i64::from(limit), ts], map)?
            .collect::<rusqlite::Result<Vec<_>>>()?
        }
    };
    Ok(rows)
}

pub(super) fn analysis_rows_of(c: &Connection, card_ids: &[String]) -> Result<Vec<AnalysisRow>> {
    let ids = serde_json::to_string(card_ids).map_err(|e| Error::Internal(e.to_string()))?;
    let rows = c
        .prepare_cached(
            "SELECT card_id, model_version, lean, stages FROM manager_cards \
             WHERE card_id IN (SELECT value FROM json_each(?1)) ORDER BY card_id",
        )?
        .query_map([ids], |r| {
            Ok(AnalysisRow {
                card_id: r.get(0)?,
                version: r.get(1)?,
                lean: r.get(2)?,
                stages: r.get(3)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

pub(super) fn card_stages(c: &Connection, card_id: &str) -> Result<Option<String>> {
    Ok(
        c.prepare_cached("SELECT stages FROM manager_cards WHERE card_id = ?1")?
            .query_row([card_id], |r| r.get::<_, String>(0))
            .optional()?
            .filter(|s| !s.is_empty()),
    )
}

pub(super) fn cards_to_reclassify(c: &Connection, after: &str, limit: u32) -> Result<Vec<String>> {
    let rows = c
        .prepare_cached(
            "SELECT card_id FROM manager_reclassify WHERE card_id > ?1 ORDER BY card_id LIMIT ?2",
        )?
        .query_map(params![after, i64::from(limit)], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(rows)
}
