//! The manager's read model in PostgreSQL, as `sqlite/manager.rs`: the card index
//! (`manager_cards`, its tags and its search row), one classified row per accepted change
//! (`manager_changes`) and the activity rollup (`manager_activity`). Rows are written in
//! the card commit's transaction ([`write_in_commit`]), so they never disagree with the
//! documents; the rollup is rewritten from the card's change rows at each commit.
//!
//! Where PostgreSQL differs from SQLite:
//!
//! - **Search.** SQLite's two FTS5 tables are one `manager_search` row per card: `body`
//!   (the trigram text, searched with `LIKE '%term%'`, which the `pg_trgm` GIN index
//!   serves) and `grams` (a `tsvector` of the grams' tokens). The server hands storage
//!   core's FTS5 `MATCH` expressions ([`IndexQuery::matches`]); [`SearchTerm`] decodes them
//!   back to the quoted terms (the format is core's `fts_literal`) and runs each as
//!   PostgreSQL's equivalent. The grams vector is built from the tokens as FTS5's
//!   `unicode61` tokenizer splits them ([`fts_tokens`]), with `array_to_tsvector`:
//!   `to_tsvector`'s parser drops some of them (`²`, `½`), splits on `-`, and depends on
//!   the database's locale.
//! - **Concurrency.** Several instances may write one card's read model at once (a
//!   commit on one, `reclassify` on another): the index row is read `FOR UPDATE`, the
//!   last change time only grows in SQL (`GREATEST`), and the search row is an upsert.
//! - **Text.** PostgreSQL's `text` cannot hold U+0000, which a document's strings may:
//!   the index's free text has it replaced ([`pg_text`]), or that card's every commit
//!   would fail.
//! - **Calendar.** Days are computed with integer arithmetic and months with dates only
//!   inside the range SQLite's date functions cover, so no stored time (a device clock
//!   may say anything) can make a commit fail on a date out of range.

use std::borrow::Cow;

use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::{GenericClient, Transaction, pg, pos, sql_pos};
use crate::error::{Error, Result};
use crate::storage::activity_calendar::{DAY_SECS, ROLLUP_UTC_OFFSET_SECS, buckets, date_of};
use crate::storage::{
    ActivityCount, ActivityRange, AnalysisRow, CardCommit, CardIndexRow, ChangeRow, DeviceLabel,
    IndexQuery, IndexSort, IndexedCard, LoggedChange, Period, Role,
};

/// Writes the index row of a committed card and its new classified changes (inside the
/// commit's transaction, after the log entries); its search row waits in `text`.
pub(super) async fn write_in_commit(
    tx: &Transaction<'_>,
    commit: &CardCommit,
    text: &mut TextRows,
) -> Result<()> {
    write_index(tx, &commit.card_id, &commit.territory, &commit.index, text).await?;
    write_changes(tx, &commit.card_id, &commit.territory, &commit.change_rows).await
}

pub(super) async fn write_read_model(
    tx: &Transaction<'_>,
    card_id: &str,
    territory: &str,
    index: &CardIndexRow,
    rows: &[ChangeRow],
) -> Result<()> {
    let mut text = TextRows::default();
    write_index(tx, card_id, territory, index, &mut text).await?;
    write_changes(tx, card_id, territory, rows).await?;
    text.write(tx).await
}

/// Search rows waiting for the end of a transaction. SQLite queues them to keep FTS5 to
/// one segment per transaction; PostgreSQL has no such cost, but the queue keeps the
/// commit path's shape and writes all of a push's rows in one statement (one round trip
/// instead of one per card). Each entry: the card's `num`, its body, its grams tokens
/// (space-separated, as [`fts_tokens`] splits them).
#[derive(Default)]
pub(super) struct TextRows(Vec<(i64, String, String)>);

impl TextRows {
    /// Writes the queued rows. Call it after the transaction's other statements.
    ///
    /// An upsert, not SQLite's delete-then-insert: of two instances indexing a new card
    /// at once, the second waits for the first and then replaces its row, where an insert
    /// would fail on the key.
    pub(super) async fn write(self, tx: &Transaction<'_>) -> Result<()> {
        if self.0.is_empty() {
            return Ok(());
        }
        let mut nums = Vec::with_capacity(self.0.len());
        let mut bodies = Vec::with_capacity(self.0.len());
        let mut grams = Vec::with_capacity(self.0.len());
        for (num, body, tokens) in self.0 {
            nums.push(num);
            bodies.push(body);
            grams.push(tokens);
        }
        // The tokens hold no space (`fts_tokens` splits on it), and `string_to_array` of an
        // empty string is the empty array: no empty lexeme reaches `array_to_tsvector`.
        let stmt = tx
            .prepare_cached(
                "INSERT INTO manager_search (num, body, grams) \
                 SELECT n, b, array_to_tsvector(string_to_array(g, ' ')) \
                 FROM unnest($1::BIGINT[], $2::TEXT[], $3::TEXT[]) AS t(n, b, g) \
                 ON CONFLICT (num) DO UPDATE SET body = excluded.body, grams = excluded.grams",
            )
            .await
            .map_err(pg)?;
        tx.execute(&stmt, &[&nums, &bodies, &grams])
            .await
            .map_err(pg)?;
        Ok(())
    }
}

async fn write_index(
    tx: &Transaction<'_>,
    card_id: &str,
    territory: &str,
    row: &CardIndexRow,
    text: &mut TextRows,
) -> Result<()> {
    // `FOR UPDATE`: a concurrent writer of this card's index row (another instance's
    // `reclassify`) waits, so the stored search hash always describes the search row.
    let previous = tx
        .query_opt(
            &tx.prepare_cached(
                "SELECT search_hash FROM manager_cards WHERE card_id = $1 FOR UPDATE",
            )
            .await
            .map_err(pg)?,
            &[&card_id],
        )
        .await
        .map_err(pg)?
        .map(|r| r.try_get::<_, Vec<u8>>(0))
        .transpose()
        .map_err(pg)?;
    let search_hash = text_hash(row);
    let tags: Vec<String> = row.tags.iter().map(|t| pg_text(t).into_owned()).collect();
    // A card's last change time never goes back (a late, older change does not make the
    // card look untouched since): `GREATEST` with the stored one, as SQLite's `max`.
    let num: i64 = tx
        .query_one(
            &tx.prepare_cached(
                "INSERT INTO manager_cards (card_id, territory, name, sort_key, class, phone, \
                 city, updated_at, last_visit_at, conflicts, search_hash, lean, stages, \
                 model_version) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 1) \
                 ON CONFLICT (card_id) DO UPDATE SET territory = excluded.territory, \
                 name = excluded.name, sort_key = excluded.sort_key, class = excluded.class, \
                 phone = excluded.phone, city = excluded.city, \
                 updated_at = GREATEST(manager_cards.updated_at, excluded.updated_at), \
                 last_visit_at = excluded.last_visit_at, conflicts = excluded.conflicts, \
                 search_hash = excluded.search_hash, lean = excluded.lean, \
                 stages = excluded.stages, model_version = manager_cards.model_version + 1 \
                 RETURNING num",
            )
            .await
            .map_err(pg)?,
            &[
                &card_id,
                &territory,
                &pg_text(&row.name),
                &pg_text(&row.sort_key),
                &row.class.as_deref().map(pg_text),
                &row.phone.as_deref().map(pg_text),
                &row.city.as_deref().map(pg_text),
                &row.updated_at,
                &row.last_visit_at,
                &i64::from(row.conflicts),
                &&search_hash[..],
                &pg_text(&row.lean),
                &pg_text(&row.stages),
            ],
        )
        .await
        .map_err(pg)?
        .try_get(0)
        .map_err(pg)?;
    tx.execute(
        &tx.prepare_cached("DELETE FROM manager_card_tags WHERE num = $1")
            .await
            .map_err(pg)?,
        &[&num],
    )
    .await
    .map_err(pg)?;
    if !tags.is_empty() {
        // All tags in one statement; a repeated tag is kept once, as `INSERT OR IGNORE`.
        tx.execute(
            &tx.prepare_cached(
                "INSERT INTO manager_card_tags (tag, num) SELECT unnest($1::TEXT[]), $2 \
                 ON CONFLICT DO NOTHING",
            )
            .await
            .map_err(pg)?,
            &[&tags, &num],
        )
        .await
        .map_err(pg)?;
    }
    // Most edits leave the searchable text alone: the search row is rewritten only when
    // it changed.
    let text_changed = previous.is_none_or(|p| p[..] != search_hash[..]);
    if text_changed {
        // A card twice in one transaction: its earlier queued row is replaced.
        text.0.retain(|(n, ..)| *n != num);
        text.0.push((
            num,
            pg_text(&row.search_full).into_owned(),
            fts_tokens(&row.search_grams).collect::<Vec<_>>().join(" "),
        ));
    }
    Ok(())
}

/// A fingerprint of a card's searchable text, to tell whether its search row needs
/// writing (the same bytes as SQLite's, so an imported database keeps its rows).
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

/// Text as PostgreSQL can store it: `text` cannot hold U+0000 (SQLite's can), so it
/// becomes U+FFFD. Without this a card whose document holds one would fail every commit.
fn pg_text(s: &str) -> Cow<'_, str> {
    if s.contains('\0') {
        Cow::Owned(s.replace('\0', "\u{FFFD}"))
    } else {
        Cow::Borrowed(s)
    }
}

/// The tokens FTS5's `unicode61` tokenizer finds in `s`: runs of letters and digits
/// (SQLite's token characters are the `L*`, `N*` and `Co` categories; Rust's
/// `is_alphanumeric` is `L*`, `N*` and the marks Unicode calls alphabetic). For the grams
/// core writes (CJK characters, pairs of them, Latin/digit words) this is exactly FTS5's
/// split: e.g. `・`, a CJK punctuation core keeps as a gram, is no token. What it does not
/// do is `unicode61`'s diacritic folding (`é` matching `e`).
fn fts_tokens(s: &str) -> impl Iterator<Item = &str> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
}

/// One term of a search, as PostgreSQL runs it against `manager_search`.
#[derive(Debug, PartialEq, Eq)]
enum SearchTerm {
    /// A `LIKE` pattern (escaped with `\`) over `body`: FTS5 `trigram` matches a phrase
    /// of 3+ characters as a substring.
    Body(String),
    /// A `tsquery` (in its text form, lexemes quoted) over `grams`.
    Grams(String),
    /// A term no card can match (FTS5 finds no token in one of its phrases).
    Nothing,
}

impl SearchTerm {
    /// Decodes one of core's `MATCH` expressions (`search::term_matches`): a trigram one
    /// is a single FTS5 string literal; a grams one is literals, each optionally followed
    /// by `*` (a prefix), joined by ` AND `. Anything else is an internal error (core and
    /// this decoder disagree), never a silently different search.
    fn from_match(trigram: bool, expr: &str) -> Result<SearchTerm> {
        let bad = || Error::Internal("unexpected search expression".into());
        if trigram {
            let (term, rest) = fts_literal(expr).ok_or_else(bad)?;
            if !rest.is_empty() {
                return Err(bad());
            }
            return Ok(SearchTerm::Body(format!(
                "%{}%",
                like_escape(&pg_text(&term))
            )));
        }
        let mut parts = Vec::new();
        let mut rest = expr;
        loop {
            let (phrase, after) = fts_literal(rest).ok_or_else(bad)?;
            let (prefix, after) = match after.strip_prefix('*') {
                Some(a) => (true, a),
                None => (false, after),
            };
            let tokens: Vec<&str> = fts_tokens(&phrase).collect();
            let Some((last, first)) = tokens.split_last() else {
                // FTS5: a phrase of no token matches no row, so neither does the AND.
                return Ok(SearchTerm::Nothing);
            };
            // A phrase of several tokens cannot come from core's grams (each is one
            // token); should it, its tokens are required together (the vector has no
            // positions for `<->`), which finds a superset of FTS5's phrase matches.
            let mut lexemes: Vec<String> = first.iter().map(|t| ts_lexeme(t)).collect();
            lexemes.push(if prefix {
                format!("{}:*", ts_lexeme(last))
            } else {
                ts_lexeme(last)
            });
            parts.push(lexemes.join(" & "));
            match after {
                "" => break,
                a => rest = a.strip_prefix(" AND ").ok_or_else(bad)?,
            }
        }
        Ok(SearchTerm::Grams(parts.join(" & ")))
    }
}

/// Reads the FTS5 string literal `s` starts with (`"…"`, inner quotes doubled): its text
/// and what follows it.
fn fts_literal(s: &str) -> Option<(String, &str)> {
    let mut rest = s.strip_prefix('"')?;
    let mut out = String::new();
    loop {
        let i = rest.find('"')?;
        out.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        match rest.strip_prefix('"') {
            Some(r) => {
                out.push('"');
                rest = r;
            }
            None => return Some((out, rest)),
        }
    }
}

/// `term` as a literal part of a `LIKE … ESCAPE '\'` pattern.
fn like_escape(term: &str) -> String {
    let mut out = String::with_capacity(term.len());
    for c in term.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A `tsquery` lexeme literal: quoted, so the text is never read as query syntax, and
/// taken as is (the `::tsquery` cast does not normalise, unlike `to_tsquery`).
fn ts_lexeme(token: &str) -> String {
    format!("'{}'", token.replace('\\', "\\\\").replace('\'', "''"))
}

async fn write_changes(
    tx: &Transaction<'_>,
    card_id: &str,
    territory: &str,
    rows: &[ChangeRow],
) -> Result<()> {
    // A change already recorded keeps its row (its activity time is the one of its first
    // receipt); only the counts core derives from the document are brought up to date,
    // which is how rows from before a count existed get it (`reclassify`).
    let insert = tx
        .prepare_cached(
            "INSERT INTO manager_changes (hash, card_id, territory, person_id, actor, \
             device_time, at, created, visits, stages, fields, contracts, orders) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
             ON CONFLICT (hash) DO UPDATE SET contracts = excluded.contracts, \
             orders = excluded.orders \
             WHERE manager_changes.contracts <> excluded.contracts \
             OR manager_changes.orders <> excluded.orders",
        )
        .await
        .map_err(pg)?;
    let mut inserted = 0;
    for c in rows {
        inserted += tx
            .execute(
                &insert,
                &[
                    &&c.hash[..],
                    &card_id,
                    &territory,
                    &c.person_id,
                    &c.actor,
                    &c.device_time,
                    &c.at,
                    // `created` is a count column (the rollup sums it), as on SQLite.
                    &i64::from(c.created),
                    &i64::from(c.visits),
                    &i64::from(c.stages),
                    &pg_text(&c.fields.join("\n")),
                    &i64::from(c.contracts),
                    &i64::from(c.orders),
                ],
            )
            .await
            .map_err(pg)?;
    }
    if inserted > 0 {
        roll_up_card(tx, card_id).await?;
    }
    tx.execute(
        &tx.prepare_cached("DELETE FROM manager_reclassify WHERE card_id = $1")
            .await
            .map_err(pg)?,
        &[&card_id],
    )
    .await
    .map_err(pg)?;
    Ok(())
}

/// The first day of the month of day `dd` (days since 1970-01-01), as days since
/// 1970-01-01; NULL outside 4714-12-01 BC … 9999-12-31. SQLite's date functions give NULL
/// outside about the same range (its Julian day 0 … year 9999); PostgreSQL's would raise
/// an error instead, which in the rollup would fail the card's commit.
const MONTH_START: &str = "CASE WHEN dd BETWEEN -2440581 AND 2932896 THEN \
    (date_trunc('month', (DATE '1970-01-01' + dd::INT)::TIMESTAMP)::DATE \
    - DATE '1970-01-01')::BIGINT END";

/// Brings a card's rows of the activity rollup up to date with its change rows: the
/// rollup is a projection of `manager_changes` (recomputed, never incremented), so a
/// change row counts exactly once however often its commit is retried.
///
/// Every row is recomputed but only rows whose values changed are written (the upsert's
/// `WHERE … IS DISTINCT FROM`, SQLite's `IS NOT`). No row has to be deleted: a change row
/// keeps its person, time and territory once written, so a day that had activity keeps it.
///
/// As SQLite: the day is floor((at + 8 h) / 1 day) (`/` truncates toward zero on both);
/// a week starts on the Monday on or before the day; a month's partition is its first day
/// ([`MONTH_START`], where SQLite uses `date(…, 'start of month')`). Sums of `BIGINT` are
/// `NUMERIC` in PostgreSQL, hence the casts; `card_id` is grouped on (SQLite allows the
/// bare column; it is the one card anyway).
async fn roll_up_card(tx: &Transaction<'_>, card_id: &str) -> Result<()> {
    let sql = format!(
        "WITH days AS (\
         SELECT person_id, (at + 28800) / 86400 - ((at + 28800) % 86400 < 0)::INT AS dd, \
         territory, card_id, count(*) AS n, sum(visits)::BIGINT AS v, \
         sum(created)::BIGINT AS c, sum(stages)::BIGINT AS s, \
         count(*) FILTER (WHERE created = 0) AS e, sum(contracts)::BIGINT AS k, \
         sum(orders)::BIGINT AS o FROM manager_changes \
         WHERE card_id = $1 AND person_id IS NOT NULL GROUP BY person_id, dd, territory, card_id) \
         INSERT INTO manager_activity (person_id, day, territory, card_id, changes, visits, \
         created, stages, edits, week_first, month_first, contracts, orders) \
         SELECT person_id, dd, territory, card_id, n, v, c, s, e, \
         e > 0 AND row_number() OVER (PARTITION BY person_id, e > 0, \
         dd - ((dd + 3) % 7 + 7) % 7 ORDER BY dd, territory) = 1, \
         e > 0 AND row_number() OVER (PARTITION BY person_id, e > 0, \
         {MONTH_START} ORDER BY dd, territory) = 1, k, o \
         FROM days \
         ON CONFLICT (person_id, day, territory, card_id) DO UPDATE SET \
         changes = excluded.changes, visits = excluded.visits, created = excluded.created, \
         stages = excluded.stages, edits = excluded.edits, week_first = excluded.week_first, \
         month_first = excluded.month_first, contracts = excluded.contracts, \
         orders = excluded.orders \
         WHERE (manager_activity.changes, manager_activity.visits, manager_activity.created, \
         manager_activity.stages, manager_activity.edits, manager_activity.week_first, \
         manager_activity.month_first, manager_activity.contracts, manager_activity.orders) \
         IS DISTINCT FROM (excluded.changes, excluded.visits, excluded.created, \
         excluded.stages, excluded.edits, excluded.week_first, excluded.month_first, \
         excluded.contracts, excluded.orders)"
    );
    tx.execute(&tx.prepare_cached(&sql).await.map_err(pg)?, &[&card_id])
        .await
        .map_err(pg)?;
    Ok(())
}

/// The list's columns. Tags come as an array, sorted (`COLLATE "C"`: byte order, as
/// Rust's sort of SQLite's `group_concat`), so no separator can split a tag.
const CARD_COLUMNS: &str = "c.card_id, c.territory, t.owner, c.name, c.sort_key, c.class, \
    c.phone, c.city, c.updated_at, c.last_visit_at, c.conflicts, \
    ARRAY(SELECT tag FROM manager_card_tags g WHERE g.num = c.num ORDER BY tag)";

fn indexed_card(r: &Row) -> Result<IndexedCard> {
    let mut tags: Vec<String> = r.try_get(11).map_err(pg)?;
    tags.sort();
    Ok(IndexedCard {
        card_id: r.try_get(0).map_err(pg)?,
        territory: r.try_get(1).map_err(pg)?,
        owner: r.try_get(2).map_err(pg)?,
        row: CardIndexRow {
            name: r.try_get(3).map_err(pg)?,
            sort_key: r.try_get(4).map_err(pg)?,
            class: r.try_get(5).map_err(pg)?,
            tags,
            phone: r.try_get(6).map_err(pg)?,
            city: r.try_get(7).map_err(pg)?,
            updated_at: r.try_get(8).map_err(pg)?,
            last_visit_at: r.try_get(9).map_err(pg)?,
            conflicts: u32::try_from(r.try_get::<_, i64>(10).map_err(pg)?).unwrap_or(0),
            // Not read back for lists (the analyses read them with `analysis_rows_*`).
            search_full: String::new(),
            search_grams: String::new(),
            lean: String::new(),
            stages: String::new(),
        },
    })
}

/// A query's parameters, numbered as pushed.
#[derive(Default)]
struct Args(Vec<Box<dyn ToSql + Sync + Send>>);

impl Args {
    /// Adds a parameter; returns its placeholder (`$n`).
    fn push(&mut self, value: impl ToSql + Sync + Send + 'static) -> String {
        self.0.push(Box::new(value));
        format!("${}", self.0.len())
    }

    fn refs(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.0
            .iter()
            .map(|a| a.as_ref() as &(dyn ToSql + Sync))
            .collect()
    }
}

pub(super) async fn index_cards(
    c: &impl GenericClient,
    q: &IndexQuery,
) -> Result<(Vec<IndexedCard>, u64)> {
    let mut args = Args::default();
    let mut filter = String::from(" WHERE TRUE");
    if let Some(territories) = &q.territories {
        if territories.is_empty() {
            return Ok((Vec::new(), 0));
        }
        let p = args.push(territories.clone());
        filter.push_str(&format!(" AND c.territory = ANY({p})"));
    }
    if let Some(class) = &q.class {
        let p = args.push(class.clone());
        filter.push_str(&format!(" AND c.class = {p}"));
    }
    if let Some(tag) = &q.tag {
        let p = args.push(tag.clone());
        filter.push_str(&format!(
            " AND c.num IN (SELECT num FROM manager_card_tags WHERE tag = {p})"
        ));
    }
    if let Some(owner) = &q.owner {
        let p = args.push(owner.clone());
        filter.push_str(&format!(
            " AND c.territory IN (SELECT id FROM territories WHERE owner = {p})"
        ));
    }
    if q.conflicted {
        filter.push_str(" AND c.conflicts > 0");
    }
    // Every term against the card's one search row: one semi-join, whose conditions the
    // two GIN indexes answer together.
    let mut search = Vec::new();
    for (trigram, expr) in &q.matches {
        match SearchTerm::from_match(*trigram, expr)? {
            SearchTerm::Body(pattern) => {
                let p = args.push(pattern);
                search.push(format!("body LIKE {p} ESCAPE '\\'"));
            }
            SearchTerm::Grams(query) => {
                // Sent as text and cast: the driver has no `tsquery` encoding.
                let p = args.push(query);
                search.push(format!("grams @@ {p}::TEXT::TSQUERY"));
            }
            SearchTerm::Nothing => return Ok((Vec::new(), 0)),
        }
    }
    if !search.is_empty() {
        filter.push_str(&format!(
            " AND c.num IN (SELECT num FROM manager_search WHERE {})",
            search.join(" AND ")
        ));
    }
    let params = args.refs();
    let total: i64 = c
        .query_one(
            &format!("SELECT count(*) FROM manager_cards c{filter}"),
            &params,
        )
        .await
        .map_err(pg)?
        .try_get(0)
        .map_err(pg)?;
    // SQLite puts NULLs first ascending and last descending: what each sort wants in its
    // natural direction (a card never visited sorts last by last visit). PostgreSQL's
    // default is the opposite, hence the explicit `NULLS`.
    let (order, natural_desc) = match q.sort {
        IndexSort::Name => ("c.sort_key", false),
        IndexSort::Updated => ("c.updated_at", true),
        IndexSort::LastVisit => ("c.last_visit_at", true),
        IndexSort::Conflicts => ("c.conflicts", true),
    };
    let (dir, nulls) = if natural_desc != q.reverse {
        ("DESC", "NULLS LAST")
    } else {
        ("ASC", "NULLS FIRST")
    };
    let mut sql = format!(
        "SELECT {CARD_COLUMNS} FROM manager_cards c LEFT JOIN territories t \
         ON t.id = c.territory{filter} ORDER BY {order} {dir} {nulls}"
    );
    if q.sort != IndexSort::Name {
        sql.push_str(&format!(", c.sort_key {dir}"));
    }
    // Ties break on the card id, so pages never overlap or skip a card.
    sql.push_str(&format!(", c.card_id {dir}"));
    sql.push_str(&format!(" LIMIT {} OFFSET {}", q.limit, sql_pos(q.offset)));
    let rows = c
        .query(&sql, &params)
        .await
        .map_err(pg)?
        .iter()
        .map(indexed_card)
        .collect::<Result<Vec<_>>>()?;
    Ok((rows, pos(total)))
}

pub(super) async fn index_card(
    c: &impl GenericClient,
    card_id: &str,
) -> Result<Option<IndexedCard>> {
    let stmt = c
        .prepare_cached(&format!(
            "SELECT {CARD_COLUMNS} FROM manager_cards c LEFT JOIN territories t \
             ON t.id = c.territory WHERE c.card_id = $1"
        ))
        .await
        .map_err(pg)?;
    c.query_opt(&stmt, &[&card_id])
        .await
        .map_err(pg)?
        .as_ref()
        .map(indexed_card)
        .transpose()
}

pub(super) async fn card_changes(
    c: &impl GenericClient,
    card_id: &str,
    offset: u64,
    limit: u32,
) -> Result<(Vec<LoggedChange>, u64)> {
    let total: i64 = c
        .query_one(
            &c.prepare_cached("SELECT count(*) FROM manager_changes WHERE card_id = $1")
                .await
                .map_err(pg)?,
            &[&card_id],
        )
        .await
        .map_err(pg)?
        .try_get(0)
        .map_err(pg)?;
    let stmt = c
        .prepare_cached(
            "SELECT m.hash, m.person_id, m.actor, m.device_time, m.at, m.created, m.visits, \
             m.stages, m.fields, l.device_id, l.received_at, l.late, m.contracts, m.orders \
             FROM manager_changes m JOIN change_log l ON l.hash = m.hash \
             WHERE m.card_id = $1 ORDER BY l.position DESC LIMIT $2 OFFSET $3",
        )
        .await
        .map_err(pg)?;
    let count = |r: &Row, i: usize| -> Result<u32> {
        Ok(u32::try_from(r.try_get::<_, i64>(i).map_err(pg)?).unwrap_or(0))
    };
    let rows = c
        .query(&stmt, &[&card_id, &i64::from(limit), &sql_pos(offset)])
        .await
        .map_err(pg)?
        .iter()
        .map(|r| {
            let hash: Vec<u8> = r.try_get(0).map_err(pg)?;
            let fields: String = r.try_get(8).map_err(pg)?;
            Ok(LoggedChange {
                change: ChangeRow {
                    hash: <[u8; 32]>::try_from(hash.as_slice()).unwrap_or([0; 32]),
                    person_id: r.try_get(1).map_err(pg)?,
                    actor: r.try_get(2).map_err(pg)?,
                    device_time: r.try_get(3).map_err(pg)?,
                    at: r.try_get(4).map_err(pg)?,
                    created: r.try_get::<_, i64>(5).map_err(pg)? != 0,
                    visits: count(r, 6)?,
                    stages: count(r, 7)?,
                    contracts: count(r, 12)?,
                    orders: count(r, 13)?,
                    fields: if fields.is_empty() {
                        Vec::new()
                    } else {
                        fields.split('\n').map(str::to_owned).collect()
                    },
                },
                device_id: r.try_get(9).map_err(pg)?,
                received_at: r.try_get(10).map_err(pg)?,
                late: r.try_get(11).map_err(pg)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((rows, pos(total)))
}

/// The devices of `actors`, in their order (an actor no device has is left out, a repeated
/// one repeated, as SQLite's one lookup per actor): one query over the list, not a round
/// trip per actor.
pub(super) async fn device_labels(
    c: &impl GenericClient,
    actors: &[Vec<u8>],
) -> Result<Vec<DeviceLabel>> {
    if actors.is_empty() {
        return Ok(Vec::new());
    }
    let stmt = c
        .prepare_cached(
            "SELECT a.actor, d.id, d.name, d.role, d.person_id \
             FROM unnest($1::BYTEA[]) WITH ORDINALITY AS q(actor, i) \
             JOIN device_actors a ON a.actor = q.actor \
             JOIN devices d ON d.id = a.device_id ORDER BY q.i",
        )
        .await
        .map_err(pg)?;
    c.query(&stmt, &[&actors])
        .await
        .map_err(pg)?
        .iter()
        .map(|r| {
            let role: String = r.try_get(3).map_err(pg)?;
            Ok(DeviceLabel {
                actor: r.try_get(0).map_err(pg)?,
                device_id: r.try_get(1).map_err(pg)?,
                name: r.try_get(2).map_err(pg)?,
                role: Role::parse(&role)
                    .map_err(|_| Error::Storage(format!("bad role {role:?}")))?,
                person_id: r.try_get(4).map_err(pg)?,
            })
        })
        .collect()
}

/// Activity per person per bucket, one query per bucket grouped by person only. A range
/// of whole days of the rollup's calendar for a list of people (what the activity report
/// asks) is summed from the rollup; any other range (another calendar, a rolling window
/// such as the team page's last 24 hours) is counted from the change rows, through the
/// covering `manager_changes_activity` index. Both count the same rows the same way: the
/// rollup is those rows grouped by local day.
pub(super) async fn activity_counts(
    c: &impl GenericClient,
    q: &ActivityRange,
) -> Result<Vec<ActivityCount>> {
    let Some(buckets) = buckets(q) else {
        return counted_in_one_query(c, q).await;
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
    // Sums of `BIGINT` are `NUMERIC` in PostgreSQL: cast back.
    let (sums, source, time) = if rolled_up {
        (
            "sum(changes)::BIGINT, sum(visits)::BIGINT, sum(created)::BIGINT, \
             count(DISTINCT CASE WHEN edits > 0 THEN card_id END), sum(stages)::BIGINT, \
             sum(contracts)::BIGINT, sum(orders)::BIGINT",
            "manager_activity",
            "day",
        )
    } else {
        (
            "count(*), sum(visits)::BIGINT, sum(created)::BIGINT, \
             count(DISTINCT CASE WHEN created = 0 THEN card_id END), sum(stages)::BIGINT, \
             sum(contracts)::BIGINT, sum(orders)::BIGINT",
            "manager_changes",
            "at",
        )
    };
    let mut lists: Vec<&Vec<String>> = Vec::new();
    let mut filter = String::new();
    for (column, list) in [("person_id", &q.people), ("territory", &q.territories)] {
        if let Some(list) = list {
            if list.is_empty() {
                return Ok(Vec::new());
            }
            lists.push(list);
            filter.push_str(&format!(" AND {column} = ANY(${})", lists.len() + 2));
        }
    }
    let sql = |sums: &str| {
        format!(
            "SELECT person_id, {sums} FROM {source} \
             WHERE {time} >= $1 AND {time} < $2 AND person_id IS NOT NULL{filter} \
             GROUP BY person_id ORDER BY person_id"
        )
    };
    let distinct = c.prepare_cached(&sql(sums)).await.map_err(pg)?;
    let marked = match marks {
        // A flag is counted where SQLite sums it (`sum(week_first)`).
        Some(mark) => Some(
            c.prepare_cached(&sql(&format!(
                "sum(changes)::BIGINT, sum(visits)::BIGINT, sum(created)::BIGINT, \
                 count(*) FILTER (WHERE {mark}), sum(stages)::BIGINT, \
                 sum(contracts)::BIGINT, sum(orders)::BIGINT"
            )))
            .await
            .map_err(pg)?,
        ),
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
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&from, &to];
        params.extend(lists.iter().map(|l| *l as &(dyn ToSql + Sync)));
        let stmt = match &marked {
            Some(marked) if b.whole_start => marked,
            _ => &distinct,
        };
        for r in c.query(stmt, &params).await.map_err(pg)? {
            out.push(activity_count(&r, b.label.clone(), 1)?);
        }
    }
    out.sort_by(|a, b| (&a.person_id, &a.bucket).cmp(&(&b.person_id, &b.bucket)));
    Ok(out)
}

/// An [`ActivityCount`] from a row of the person, then (from column `first`) the seven
/// counts.
fn activity_count(r: &Row, bucket: String, first: usize) -> Result<ActivityCount> {
    let n = |i: usize| -> Result<u64> { Ok(pos(r.try_get(first + i).map_err(pg)?)) };
    Ok(ActivityCount {
        person_id: r.try_get(0).map_err(pg)?,
        bucket,
        changes: n(0)?,
        visits: n(1)?,
        new_customers: n(2)?,
        cards_updated: n(3)?,
        stages_moved: n(4)?,
        contracts: n(5)?,
        orders: n(6)?,
    })
}

/// The whole range in one `GROUP BY` over the change rows: for ranges of more buckets
/// than are worth a query each. The buckets follow the local calendar, as SQLite's
/// `date(at + offset, 'unixepoch', …)`: the local day `dd` in integer arithmetic (floor
/// division), then the Monday on or before it or the first of its month; the query
/// returns each bucket's first day as a day number and its `YYYY-MM-DD` label is made
/// here (the same text as SQLite's for the years 0000–9999).
async fn counted_in_one_query(
    c: &impl GenericClient,
    q: &ActivityRange,
) -> Result<Vec<ActivityCount>> {
    let bucket = match q.period {
        Period::Day => "dd",
        Period::Week => "dd - ((dd + 3) % 7 + 7) % 7",
        Period::Month => MONTH_START,
    };
    let mut lists: Vec<&Vec<String>> = Vec::new();
    let mut filter = String::from(" WHERE at >= $2 AND at < $3 AND person_id IS NOT NULL");
    for (column, list) in [("territory", &q.territories), ("person_id", &q.people)] {
        if let Some(list) = list {
            if list.is_empty() {
                return Ok(Vec::new());
            }
            lists.push(list);
            filter.push_str(&format!(" AND {column} = ANY(${})", lists.len() + 3));
        }
    }
    let sql = format!(
        "SELECT person_id, {bucket} AS b, count(*), sum(visits)::BIGINT, \
         sum(created)::BIGINT, count(DISTINCT CASE WHEN created = 0 THEN card_id END), \
         sum(stages)::BIGINT, sum(contracts)::BIGINT, sum(orders)::BIGINT \
         FROM (SELECT person_id, card_id, created, visits, stages, contracts, orders, \
         (at + $1) / 86400 - ((at + $1) % 86400 < 0)::INT AS dd \
         FROM manager_changes{filter}) x \
         GROUP BY person_id, b ORDER BY person_id, b"
    );
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&q.utc_offset_secs, &q.from, &q.to];
    params.extend(lists.iter().map(|l| *l as &(dyn ToSql + Sync)));
    c.query(&sql, &params)
        .await
        .map_err(pg)?
        .iter()
        .map(|r| {
            let day: Option<i64> = r.try_get(1).map_err(pg)?;
            let label = day
                .and_then(date_of)
                .map(|d| d.format("%Y-%m-%d").to_string())
                .ok_or_else(|| Error::Storage("activity outside the calendar".into()))?;
            activity_count(r, label, 2)
        })
        .collect()
}

pub(super) async fn open_conflicts_by_territory(
    c: &impl GenericClient,
) -> Result<Vec<(String, u64)>> {
    let stmt = c
        .prepare_cached(
            "SELECT territory, sum(conflicts)::BIGINT FROM manager_cards WHERE conflicts > 0 \
             GROUP BY territory ORDER BY territory",
        )
        .await
        .map_err(pg)?;
    counts(c.query(&stmt, &[]).await.map_err(pg)?)
}

pub(super) async fn held_counts_by_person(c: &impl GenericClient) -> Result<Vec<(String, u64)>> {
    let stmt = c
        .prepare_cached(
            "SELECT person_id, count(*) FROM held_changes WHERE status = 'pending' \
             GROUP BY person_id ORDER BY person_id",
        )
        .await
        .map_err(pg)?;
    counts(c.query(&stmt, &[]).await.map_err(pg)?)
}

/// `(text, count)` rows.
fn counts(rows: Vec<Row>) -> Result<Vec<(String, u64)>> {
    rows.iter()
        .map(|r| Ok((r.try_get(0).map_err(pg)?, pos(r.try_get(1).map_err(pg)?))))
        .collect()
}

/// Card ids of a query's first column.
fn ids(rows: Vec<Row>) -> Result<Vec<String>> {
    rows.iter().map(|r| r.try_get(0).map_err(pg)).collect()
}

/// `NOT EXISTS` where SQLite says `NOT IN`: the same rows (`manager_cards.card_id` is
/// never NULL), planned as an anti-join rather than a subplan over the whole index.
pub(super) async fn cards_without_index(
    c: &impl GenericClient,
    after: &str,
    limit: u32,
) -> Result<Vec<String>> {
    let stmt = c
        .prepare_cached(
            "SELECT k.card_id FROM cards k WHERE k.card_id > $1 \
             AND NOT EXISTS (SELECT 1 FROM manager_cards m WHERE m.card_id = k.card_id) \
             ORDER BY k.card_id LIMIT $2",
        )
        .await
        .map_err(pg)?;
    ids(c
        .query(&stmt, &[&after, &i64::from(limit)])
        .await
        .map_err(pg)?)
}

fn analysis_row(r: &Row) -> Result<AnalysisRow> {
    Ok(AnalysisRow {
        card_id: r.try_get(0).map_err(pg)?,
        version: r.try_get(1).map_err(pg)?,
        lean: r.try_get(2).map_err(pg)?,
        stages: r.try_get(3).map_err(pg)?,
    })
}

/// Up to `limit` index rows by card id, after `after`, of `territories` (`None`: all);
/// without their bodies unless `with_bodies`.
pub(super) async fn analysis_rows_after(
    c: &impl GenericClient,
    territories: Option<&[String]>,
    after: &str,
    limit: u32,
    with_bodies: bool,
) -> Result<Vec<AnalysisRow>> {
    let columns = if with_bodies {
        "card_id, model_version, lean, stages"
    } else {
        "card_id, model_version, ''::TEXT, ''::TEXT"
    };
    let limit = i64::from(limit);
    let rows = match territories {
        None => {
            let stmt = c
                .prepare_cached(&format!(
                    "SELECT {columns} FROM manager_cards WHERE card_id > $1 \
                     ORDER BY card_id LIMIT $2"
                ))
                .await
                .map_err(pg)?;
            c.query(&stmt, &[&after, &limit]).await.map_err(pg)?
        }
        Some(ts) => {
            let stmt = c
                .prepare_cached(&format!(
                    "SELECT {columns} FROM manager_cards WHERE card_id > $1 \
                     AND territory = ANY($3) ORDER BY card_id LIMIT $2"
                ))
                .await
                .map_err(pg)?;
            c.query(&stmt, &[&after, &limit, &ts]).await.map_err(pg)?
        }
    };
    rows.iter().map(analysis_row).collect()
}

pub(super) async fn analysis_rows_of(
    c: &impl GenericClient,
    card_ids: &[String],
) -> Result<Vec<AnalysisRow>> {
    let stmt = c
        .prepare_cached(
            "SELECT card_id, model_version, lean, stages FROM manager_cards \
             WHERE card_id = ANY($1) ORDER BY card_id",
        )
        .await
        .map_err(pg)?;
    c.query(&stmt, &[&card_ids])
        .await
        .map_err(pg)?
        .iter()
        .map(analysis_row)
        .collect()
}

pub(super) async fn card_stages(c: &impl GenericClient, card_id: &str) -> Result<Option<String>> {
    let stmt = c
        .prepare_cached("SELECT stages FROM manager_cards WHERE card_id = $1")
        .await
        .map_err(pg)?;
    let stages: Option<String> = c
        .query_opt(&stmt, &[&card_id])
        .await
        .map_err(pg)?
        .map(|r| r.try_get(0))
        .transpose()
        .map_err(pg)?;
    Ok(stages.filter(|s| !s.is_empty()))
}

pub(super) async fn cards_to_reclassify(
    c: &impl GenericClient,
    after: &str,
    limit: u32,
) -> Result<Vec<String>> {
    let stmt = c
        .prepare_cached(
            "SELECT card_id FROM manager_reclassify WHERE card_id > $1 ORDER BY card_id LIMIT $2",
        )
        .await
        .map_err(pg)?;
    ids(c
        .query(&stmt, &[&after, &i64::from(limit)])
        .await
        .map_err(pg)?)
}

#[cfg(test)]
mod tests {
    //! The decoding of core's search expressions, and (with `FIELDBOOK_TEST_PG`) the
    //! same read model written to SQLite and to PostgreSQL answering every query the same.

    use fieldbook_core::search::{TermMatch, term_matches};

    use super::*;
    use crate::storage::postgres::{PgStorage, ScratchDatabase};
    use crate::storage::sqlite::SqliteStorage;
    use crate::storage::{NewChange, Storage};

    fn decoded(query: &str) -> Vec<SearchTerm> {
        term_matches(query)
            .expect("terms")
            .into_iter()
            .map(|m| match m {
                TermMatch::Trigram(e) => SearchTerm::from_match(true, &e),
                TermMatch::Grams(e) => SearchTerm::from_match(false, &e),
            })
            .collect::<Result<_>>()
            .expect("decodes")
    }

    #[test]
    fn core_expressions_decode_to_patterns_and_lexemes() {
        assert_eq!(
            decoded("上海 ab 华东区 50%_x\\ \"q\"uote ＡＢ１ 上a"),
            vec![
                SearchTerm::Grams("'上' & '上海' & '海'".into()),
                SearchTerm::Grams("'ab':*".into()),
                SearchTerm::Body("%华东区%".into()),
                SearchTerm::Body("%50\\%\\_x\\\\%".into()),
                SearchTerm::Body("%\"q\"uote%".into()),
                SearchTerm::Body("%ab1%".into()),
                SearchTerm::Grams("'上' & 'a':*".into()),
            ]
        );
        // A gram FTS5 finds no token in matches nothing there, nor here.
        assert_eq!(decoded("a・"), vec![SearchTerm::Nothing]);
        for bad in [r#"abc"#, r#""abc"#, r#""a" OR "b""#, r#""a"x"#] {
            assert!(SearchTerm::from_match(false, bad).is_err(), "{bad}");
        }
        assert!(SearchTerm::from_match(true, r#""a" AND "b""#).is_err());
    }

    #[test]
    fn grams_split_as_unicode61_does() {
        let tokens: Vec<&str> = fts_tokens("上 上海 ・ acme 01 ²³ x\0y").collect();
        assert_eq!(tokens, vec!["上", "上海", "acme", "01", "²³", "x", "y"]);
        assert_eq!(pg_text("a\0b"), "a\u{FFFD}b");
    }

    fn test_server() -> Option<String> {
        let url = std::env::var("FIELDBOOK_TEST_PG")
            .ok()
            .filter(|u| !u.is_empty());
        if url.is_none() {
            eprintln!("FIELDBOOK_TEST_PG is not set: PostgreSQL test skipped");
        }
        url
    }

    const DAY: i64 = 86_400;
    /// 2026-11-30, a Monday, 00:00 in China time.
    const MONDAY: i64 = 1_795_996_800 - 8 * 3_600;

    /// Cards with names, search text and change rows in several territories, times and
    /// calendars (China time and UTC day edges, a week and month boundary, a far past
    /// device clock), text FTS5 and PostgreSQL tokenise differently if anything does.
    fn commits() -> Vec<CardCommit> {
        let names = [
            (
                "上海华东贸易",
                "上 上海 海 海华 华 华东 东 东贸 贸 贸易 易",
                "north",
            ),
            (
                "北京 ACME-01 商行",
                "北 北京 京 acme 01 商 商行 行",
                "north",
            ),
            ("广州・百货 ²³", "广 广州 州 ・ ・百 百 百货 货 ²³", "south"),
            ("Café 50%_off", "café 50 off", "south"),
            ("O'Brien \"q\" 客户", "o brien q 客 客户 户", "east"),
            ("abc nul", "abc nul", "north"),
        ];
        let mut out = Vec::new();
        for (i, (name, grams, territory)) in names.into_iter().enumerate() {
            let n = u8::try_from(i).expect("few") * 10 + 1;
            let at = MONDAY + i64::from(n) * 7_919 - 40 * DAY;
            let rows: Vec<ChangeRow> = (0..4u8)
                .map(|k| ChangeRow {
                    hash: [n + k; 32],
                    person_id: (k != 3).then(|| format!("rep-{}", (i + usize::from(k)) % 3)),
                    actor: vec![n + k; 16],
                    device_time: Some(at + i64::from(k) * 13 * DAY),
                    // Device clocks far in the past: inside SQLite's calendar, and before it.
                    at: if i == 5 && k == 0 {
                        -70_000_000_000
                    } else if i == 5 && k == 1 {
                        -300_000_000_000
                    } else {
                        at + i64::from(k) * 13 * DAY + i64::from(k) * 3_601
                    },
                    created: k == 0,
                    visits: u32::from(k % 2),
                    stages: u32::from(k / 2),
                    contracts: u32::from(k == 2),
                    orders: u32::from(k),
                    fields: if k == 1 {
                        Vec::new()
                    } else {
                        vec!["basic.name".into(), "contacts.0.phone".into()]
                    },
                })
                .collect();
            out.push(CardCommit {
                card_id: format!("card-{i}"),
                territory: territory.into(),
                expected_last_position: None,
                doc: vec![n],
                heads: vec![[n; 32]],
                projection: "{}".into(),
                changes: rows
                    .iter()
                    .map(|r| NewChange {
                        hash: r.hash,
                        bytes: vec![r.hash[0]; 4],
                    })
                    .collect(),
                late: i == 2,
                device_id: format!("dev-{}", i % 2),
                received_at: at + 100,
                index: CardIndexRow {
                    name: name.into(),
                    sort_key: fieldbook_core::search::sort_key(name),
                    class: (i % 2 == 0).then(|| "A".to_owned()),
                    tags: if i % 3 == 0 {
                        vec!["vip".into(), "重点".into(), "vip".into()]
                    } else {
                        Vec::new()
                    },
                    phone: (i != 1).then(|| "021-6234 5678".to_owned()),
                    city: None,
                    updated_at: at + 50 * DAY,
                    last_visit_at: (i % 3 != 1).then_some(at + i64::from(n)),
                    conflicts: u32::try_from(i % 3).expect("small"),
                    search_full: format!(
                        "{} 021-6234 5678 62345678{}",
                        name.to_lowercase(),
                        if i == 5 { "\0" } else { "" }
                    ),
                    search_grams: grams.into(),
                    lean: format!("{{\"n\":{i}}}"),
                    stages: if i == 1 { String::new() } else { "[1]".into() },
                },
                change_rows: rows,
            });
        }
        out
    }

    #[test]
    fn postgres_answers_as_sqlite() {
        let Some(admin) = test_server() else {
            return;
        };
        let dir = tempfile::tempdir().expect("dir");
        let lite = SqliteStorage::open(&dir.path().join("s.db")).expect("sqlite");
        let db = ScratchDatabase::create(&admin).expect("scratch database");
        let store = PgStorage::connect(db.url()).expect("postgres");
        let commits = commits();
        for c in &commits {
            lite.commit_card(c).expect("sqlite commit");
        }
        for c in &commits {
            store.commit_card(c).expect("postgres commit");
        }
        // A second write of one card's model (reclassify's path), an older time: the last
        // change time stays, the version grows, the text is rewritten.
        let mut again = commits[0].index.clone();
        again.updated_at -= 1_000;
        again.search_full.push_str(" 新");
        again.search_grams.push_str(" 新");
        again.tags = vec!["新".into()];
        lite.write_read_model("card-0", "north", &again, &commits[0].change_rows)
            .expect("sqlite model");
        store
            .write(async |tx| {
                write_read_model(tx, "card-0", "north", &again, &commits[0].change_rows).await
            })
            .expect("postgres model");

        let searches = [
            None,
            Some("上海"),
            Some("上"),
            Some("海华"),
            Some("华东贸"),
            Some("acme"),
            Some("ac"),
            Some("a"),
            Some("01"),
            Some("6234"),
            Some("62345678"),
            Some("50%_"),
            Some("%"),
            Some("_o"),
            Some("o'b"),
            Some("\"q\""),
            Some("²"),
            Some("²³"),
            Some("・"),
            Some("州・"),
            Some("caf"),
            Some("é"),
            Some("新"),
            Some("上海 acme"),
            Some("客户 o"),
            Some("nul"),
        ];
        let sorts = [
            IndexSort::Name,
            IndexSort::Updated,
            IndexSort::LastVisit,
            IndexSort::Conflicts,
        ];
        let mut checked = 0;
        for search in searches {
            let Some(matches) = search.map_or(Some(Vec::new()), term_matches) else {
                continue;
            };
            let matches: Vec<(bool, String)> = matches
                .into_iter()
                .map(|m| match m {
                    TermMatch::Trigram(e) => (true, e),
                    TermMatch::Grams(e) => (false, e),
                })
                .collect();
            for sort in sorts {
                for reverse in [false, true] {
                    for (territories, tag, class, conflicted) in [
                        (None, None, None, false),
                        (
                            Some(vec!["north".to_owned(), "south".to_owned()]),
                            None,
                            None,
                            false,
                        ),
                        (Some(Vec::new()), None, None, false),
                        (None, Some("vip".to_owned()), None, false),
                        (None, None, Some("A".to_owned()), true),
                    ] {
                        for (offset, limit) in [(0, 50), (1, 2)] {
                            let q = IndexQuery {
                                territories: territories.clone(),
                                class: class.clone(),
                                tag: tag.clone(),
                                owner: None,
                                conflicted,
                                matches: matches.clone(),
                                sort,
                                reverse,
                                offset,
                                limit,
                            };
                            let want = lite.index_cards(&q).expect("sqlite index");
                            let got = store
                                .read(async |c| index_cards(c, &q).await)
                                .expect("postgres index");
                            assert_eq!(got, want, "{search:?} {sort:?} {reverse} {q:?}");
                            checked += 1;
                        }
                    }
                }
            }
        }
        assert!(checked > 1_000);
        // Not vacuous: what the searches find.
        let found = |search: &str| -> Vec<String> {
            let matches = term_matches(search)
                .expect("terms")
                .into_iter()
                .map(|m| match m {
                    TermMatch::Trigram(e) => (true, e),
                    TermMatch::Grams(e) => (false, e),
                })
                .collect();
            let q = IndexQuery {
                matches,
                limit: 50,
                ..IndexQuery::default()
            };
            let (rows, _) = store
                .read(async |c| index_cards(c, &q).await)
                .expect("search");
            rows.into_iter().map(|r| r.card_id).collect()
        };
        assert_eq!(found("上海"), ["card-0"]);
        assert_eq!(found("ac"), ["card-1"]);
        assert_eq!(found("50%_"), ["card-3"]);
        assert_eq!(found("²"), ["card-2"]);
        assert_eq!(found("新 上"), ["card-0"]);
        assert_eq!(found("o'b"), ["card-4"]);
        assert!(found("州・").is_empty());
        assert_eq!(found("62345678").len(), 6);

        for c in &commits {
            let id = c.card_id.as_str();
            assert_eq!(
                store.read(async |c| index_card(c, id).await).expect("pg"),
                lite.index_card(id).expect("lite"),
            );
            for (offset, limit) in [(0, 10), (1, 2), (9, 2)] {
                assert_eq!(
                    store
                        .read(async |c| card_changes(c, id, offset, limit).await)
                        .expect("pg"),
                    lite.card_changes(id, offset, limit).expect("lite"),
                );
            }
            assert_eq!(
                store.read(async |c| card_stages(c, id).await).expect("pg"),
                lite.card_stages(id).expect("lite"),
            );
        }
        assert_eq!(
            store
                .read(async |c| open_conflicts_by_territory(c).await)
                .expect("pg"),
            lite.open_conflicts_by_territory().expect("lite"),
        );
        assert_eq!(
            store
                .read(async |c| held_counts_by_person(c).await)
                .expect("pg"),
            lite.held_counts_by_person().expect("lite"),
        );
        let some = vec!["north".to_owned(), "east".to_owned()];
        for territories in [None, Some(&some[..]), Some(&[][..])] {
            for (after, limit) in [("", 10), ("card-1", 2)] {
                for bodies in [false, true] {
                    assert_eq!(
                        store
                            .read(async |c| {
                                analysis_rows_after(c, territories, after, limit, bodies).await
                            })
                            .expect("pg"),
                        lite.analysis_rows_after(territories, after, limit, bodies)
                            .expect("lite"),
                    );
                }
            }
        }
        let of = vec![
            "card-3".to_owned(),
            "card-0".into(),
            "nope".into(),
            "card-3".into(),
        ];
        assert_eq!(
            store
                .read(async |c| analysis_rows_of(c, &of).await)
                .expect("pg"),
            lite.analysis_rows_of(&of).expect("lite"),
        );
        assert_eq!(
            store
                .read(async |c| cards_without_index(c, "", 10).await)
                .expect("pg"),
            lite.cards_without_index("", 10).expect("lite"),
        );
        assert_eq!(
            store
                .read(async |c| cards_to_reclassify(c, "", 10).await)
                .expect("pg"),
            lite.cards_to_reclassify("", 10).expect("lite"),
        );
        let labels = vec![vec![1u8; 16], vec![2; 16]];
        assert_eq!(
            store
                .read(async |c| device_labels(c, &labels).await)
                .expect("pg"),
            lite.device_labels(&labels).expect("lite"),
        );

        // The rollup itself, row for row.
        let rollup = "SELECT person_id, day, territory, card_id, changes, visits, created, \
                      stages, edits, week_first, month_first, contracts, orders \
                      FROM manager_activity ORDER BY person_id, day, territory, card_id";
        let got: Vec<String> = store
            .read(async |c| {
                let rows = c.query(rollup, &[]).await.map_err(pg)?;
                Ok(rows
                    .iter()
                    .map(|r| {
                        let s = |i| r.get::<_, String>(i);
                        let n = |i| r.get::<_, i64>(i);
                        let b = |i| i64::from(r.get::<_, bool>(i));
                        format!(
                            "{} {} {} {} {} {} {} {} {} {} {} {} {}",
                            s(0),
                            n(1),
                            s(2),
                            s(3),
                            n(4),
                            n(5),
                            n(6),
                            n(7),
                            n(8),
                            b(9),
                            b(10),
                            n(11),
                            n(12)
                        )
                    })
                    .collect())
            })
            .expect("pg rollup");
        let conn = rusqlite::Connection::open(dir.path().join("s.db")).expect("open");
        let want: Vec<String> = conn
            .prepare(rollup)
            .expect("prepare")
            .query_map([], |r| {
                let s = |i| r.get::<_, String>(i);
                let n = |i| r.get::<_, i64>(i);
                Ok(format!(
                    "{} {} {} {} {} {} {} {} {} {} {} {} {}",
                    s(0)?,
                    n(1)?,
                    s(2)?,
                    s(3)?,
                    n(4)?,
                    n(5)?,
                    n(6)?,
                    n(7)?,
                    n(8)?,
                    n(9)?,
                    n(10)?,
                    n(11)?,
                    n(12)?
                ))
            })
            .expect("query")
            .collect::<rusqlite::Result<_>>()
            .expect("rows");
        assert_eq!(got, want);
        assert!(got.len() > 10);

        let people = vec!["rep-0".to_owned(), "rep-1".into(), "rep-2".into()];
        for period in [Period::Day, Period::Week, Period::Month] {
            for offset in [8 * 3_600, 0, -5 * 3_600] {
                for people in [None, Some(people.clone()), Some(vec!["rep-1".to_owned()])] {
                    for territories in [None, Some(some.clone()), Some(Vec::new())] {
                        for (from, to) in [
                            (MONDAY - 60 * DAY, MONDAY + 60 * DAY),
                            (MONDAY - 45 * DAY - 3 * 3_600, MONDAY + 2 * DAY + 7),
                            (MONDAY - 3_000 * DAY, MONDAY + 60 * DAY),
                        ] {
                            let q = ActivityRange {
                                territories: territories.clone(),
                                people: people.clone(),
                                from,
                                to,
                                period,
                                utc_offset_secs: offset,
                            };
                            let want = lite.activity_counts(&q).expect("sqlite activity");
                            let got = store
                                .read(async |c| activity_counts(c, &q).await)
                                .expect("postgres activity");
                            assert_eq!(got, want, "{q:?}");
                        }
                    }
                }
            }
        }
    }
}
