//! The embedded default backend: one SQLite file (rusqlite, bundled), WAL mode.
//!
//! Exactly one writer connection behind a mutex (SQLite allows one writer anyway, and
//! serialising appends is what keeps positions visible in order); reads use a small pool
//! of read-only connections so syncs do not queue behind writes. Writes take a
//! `&Transaction`, reads a `&Connection`, so transaction boundaries are visible in types.
//! A sync writes its pushed cards a page per transaction (`commit_cards`), with cached
//! statements. `synchronous=NORMAL` in WAL mode: a committed transaction survives the
//! process being killed (SIGKILL); only an OS crash or power loss can lose the last ones.
//! The schema is versioned with `PRAGMA user_version`, one match arm per step.
//! Concurrent syncs' writes share a transaction ([`group`]: one commit for several
//! devices' cards), and the WAL is checkpointed on a thread of its own ([`checkpoint`]),
//! never inside a sync's commit.
//!
//! This file owns the connections and the transaction boundaries; each concern's SQL lives
//! in a submodule: [`schema`] (versions, migrations, identity), [`cards`] (cards, change
//! log, projections), [`people`] (people, territories, scope events), [`devices`]
//! (enrolments, devices), [`held`] (held changes and the review queue, fallback states),
//! [`handoff`] (assignment history, handoffs and card moves, late edits), [`web`] (dashboard
//! logins, links, sessions).

mod cards;
mod checkpoint;
mod devices;
mod group;
mod handoff;
mod held;
mod manager;
mod people;
mod schema;
mod settings;
mod web;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OpenFlags, Transaction};

use super::{
    ActivityCount, ActivityRange, ActorEntry, AnalysisRow, Assignment, CardCommit, CardIndexRow,
    CardMove, CardMoves, CardSummary, ChangeRow, CommitOutcome, Device, DeviceLabel, HeldChanges,
    HoldRequest, IndexQuery, IndexedCard, LateEdit, LoggedChange, NewDevice, NewEnrolment, Person,
    ReviewDecision, ReviewFilter, ReviewItem, Role, ScopeEvent, ServerActor, ServerIdentity,
    Storage, StoredCard, StoredSettings, Territory, TerritoryHandoff,
};
use super::{NewLoginLink, WebSession};
use crate::error::{Error, Result};

const MAX_IDLE_READERS: usize = 8;

/// The SQLite backend.
pub struct SqliteStorage {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    /// Writes waiting for the writer, run together ([`group`]).
    group: group::GroupQueue,
    /// Copies the WAL into the database file off the writer's path ([`checkpoint`]);
    /// `None` when read-only. Dropping it runs a last checkpoint.
    checkpointer: Option<checkpoint::Checkpointer>,
    /// Opened on a file it may not write: reads are served, writes fail with
    /// [`Error::ReadOnly`] before SQLite is asked.
    read_only: bool,
}

impl std::fmt::Debug for SqliteStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStorage")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStorage {
    /// Opens (creating and migrating if needed) the database at `path`.
    ///
    /// A file that may not be written (its permissions, or SQLite finds it write-protected)
    /// is opened read-only instead, provided its schema is current (a migration would have
    /// to write): reads are served and every write answers [`Error::ReadOnly`].
    pub fn open(path: &Path) -> Result<SqliteStorage> {
        // The permission bits, not an attempt to write: a process running as root could
        // write a file its operator made read-only on purpose.
        let protected = std::fs::metadata(path)
            .map(|m| m.permissions().readonly())
            .unwrap_or(false);
        if protected {
            return SqliteStorage::open_read_only(path);
        }
        let mut conn = Connection::open(path)?;
        if conn.is_readonly(rusqlite::MAIN_DB)? {
            drop(conn);
            return SqliteStorage::open_read_only(path);
        }
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        stable_plans(&conn)?;
        schema::migrate(&mut conn)?;
        // Checkpoints run on their own thread (see `checkpoint`), never inside a commit.
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        let checkpointer = checkpoint::Checkpointer::start(path)?;
        Ok(SqliteStorage {
            path: path.to_owned(),
            writer: Mutex::new(conn),
            readers: Mutex::new(Vec::new()),
            group: group::GroupQueue::default(),
            checkpointer: Some(checkpointer),
            read_only: false,
        })
    }

    /// Opens an existing database read-only (nothing is written, not even `user_version`).
    /// Fails unless its schema is the current one.
    pub fn open_read_only(path: &Path) -> Result<SqliteStorage> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        stable_plans(&conn)?;
        schema::check_current(&conn)?;
        tracing::warn!("database opened read-only: reads are served, writes are refused");
        Ok(SqliteStorage {
            path: path.to_owned(),
            writer: Mutex::new(conn),
            readers: Mutex::new(Vec::new()),
            group: group::GroupQueue::default(),
            checkpointer: None,
            read_only: true,
        })
    }

    /// Caps the database at its current size plus `extra_pages` pages for this process
    /// (`PRAGMA max_page_count`): a write past it fails as on a full disk
    /// ([`Error::StorageFull`]). Returns the cap. For quota'd deployments and for tests of
    /// the full-disk path.
    pub fn cap_pages(&self, extra_pages: u64) -> Result<u64> {
        let conn = self
            .writer
            .lock()
            .map_err(|_| Error::Internal("writer lock poisoned".into()))?;
        let count: i64 = conn.pragma_query_value(None, "page_count", |r| r.get(0))?;
        let cap = count.saturating_add(i64::try_from(extra_pages).unwrap_or(i64::MAX));
        let set: i64 = conn.pragma_update_and_check(None, "max_page_count", cap, |r| r.get(0))?;
        Ok(u64::try_from(set).unwrap_or(0))
    }

    /// Whether this storage was opened read-only.
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        if self.read_only {
            return Err(Error::ReadOnly);
        }
        let mut conn = self
            .writer
            .lock()
            .map_err(|_| Error::Internal("writer lock poisoned".into()))?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        drop(conn);
        self.committed();
        Ok(out)
    }

    /// [`Self::write`] for the writes every sync makes (its cards, its bookkeeping):
    /// concurrent ones share a transaction ([`group`]). The write owns its data.
    fn write_grouped<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        if self.read_only {
            return Err(Error::ReadOnly);
        }
        let out = self.group.write(&self.writer, f);
        self.committed();
        out
    }

    fn committed(&self) {
        if let Some(checkpointer) = &self.checkpointer {
            checkpointer.committed();
        }
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let pooled = self
            .readers
            .lock()
            .map_err(|_| Error::Internal("reader pool poisoned".into()))?
            .pop();
        let conn = match pooled {
            Some(c) => c,
            None => {
                let c = Connection::open_with_flags(
                    &self.path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                c.busy_timeout(std::time::Duration::from_secs(10))?;
                stable_plans(&c)?;
                c
            }
        };
        let out = f(&conn);
        if let Ok(mut pool) = self.readers.lock()
            && pool.len() < MAX_IDLE_READERS
        {
            pool.push(conn);
        }
        out
    }
}

/// Turns on the query planner stability guarantee: a statement keeps the plan it was
/// prepared with. Without it, the bundled build's `STAT4` statistics make SQLite re-plan a
/// cached statement whenever a bound value might change the best plan, which for the
/// per-card statements of a sync (`roll_up_card`, `changes_by_others`) is every execution:
/// a prepare's cost on each bind for plans that never change.
fn stable_plans(conn: &Connection) -> Result<()> {
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(())
}

fn pos(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn sql_pos(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl Storage for SqliteStorage {
    fn identity(&self) -> Result<ServerIdentity> {
        self.read(schema::identity)
    }

    fn is_read_only(&self) -> bool {
        self.read_only
    }

    fn add_person(&self, person: &Person) -> Result<()> {
        self.write(|tx| people::add_person(tx, person))
    }

    fn person(&self, id: &str) -> Result<Option<Person>> {
        self.read(|c| people::person(c, id))
    }

    fn people(&self) -> Result<Vec<Person>> {
        self.read(people::people)
    }

    fn add_territory(&self, id: &str, name: &str, manager: Option<&str>) -> Result<()> {
        self.write(|tx| people::add_territory(tx, id, name, manager))
    }

    fn assign_territory(&self, territory_id: &str, rep_id: &str, now: i64) -> Result<u64> {
        self.write(|tx| people::assign_territory(tx, territory_id, rep_id, now))
    }

    fn territory_lost_at(&self, person_id: &str, territory_id: &str) -> Result<Option<i64>> {
        self.read(|c| people::territory_lost_at(c, person_id, territory_id))
    }

    fn territory(&self, id: &str) -> Result<Option<Territory>> {
        self.read(|c| people::territory(c, id))
    }

    fn territories(&self) -> Result<Vec<Territory>> {
        self.read(people::territories)
    }

    fn territories_of(&self, person_id: &str, role: Role) -> Result<Vec<String>> {
        self.read(|c| people::territories_of(c, person_id, role))
    }

    fn scope_events_after(&self, person_id: &str, after: u64) -> Result<Vec<ScopeEvent>> {
        self.read(|c| people::scope_events_after(c, person_id, after))
    }

    fn create_enrolment(&self, e: &NewEnrolment) -> Result<()> {
        self.write(|tx| devices::create_enrolment(tx, e))
    }

    fn redeem_enrolment(&self, token_hash: &str, d: &NewDevice) -> Result<Device> {
        self.write(|tx| devices::redeem_enrolment(tx, token_hash, d))
    }

    fn device_by_token_hash(&self, token_hash: &str) -> Result<Option<Device>> {
        self.read(|c| devices::device_by_token_hash(c, token_hash))
    }

    fn device(&self, id: &str) -> Result<Option<Device>> {
        self.read(|c| devices::device(c, id))
    }

    fn devices(&self) -> Result<Vec<Device>> {
        self.read(devices::devices)
    }

    fn rekey_device(&self, device_id: &str, actor: &[u8], now: i64) -> Result<Device> {
        self.write(|tx| devices::rekey_device(tx, device_id, actor, now))
    }

    fn revoke_device(&self, id: &str) -> Result<()> {
        self.write(|tx| devices::revoke_device(tx, id))
    }

    fn record_sync(&self, device_id: &str, now: i64) -> Result<()> {
        if self.read_only {
            // Bookkeeping only: a read-only server still serves syncs that push nothing.
            return Ok(());
        }
        let device_id = device_id.to_owned();
        self.write_grouped(move |tx| devices::record_sync(tx, &device_id, now))
    }

    fn head_position(&self) -> Result<u64> {
        self.read(cards::head_position)
    }

    fn log_len(&self) -> Result<u64> {
        self.read(cards::log_len)
    }

    fn card(&self, card_id: &str) -> Result<Option<StoredCard>> {
        self.read(|c| cards::card(c, card_id))
    }

    fn commit_card(&self, commit: &CardCommit) -> Result<CommitOutcome> {
        let commit = commit.clone();
        self.write_grouped(move |tx| cards::commit_one(tx, &commit))
    }

    fn commit_cards(&self, commits: &[CardCommit]) -> Result<Vec<Result<CommitOutcome>>> {
        let commits = commits.to_vec();
        self.write_grouped(move |tx| cards::commit_cards(tx, &commits))
    }

    fn cards_changed_by_others(
        &self,
        territories: &[String],
        after: u64,
        upto: u64,
        exclude_device: &str,
    ) -> Result<Vec<CardSummary>> {
        self.read(|c| cards::cards_changed_by_others(c, territories, after, upto, exclude_device))
    }

    fn cards_in_territories(&self, territories: &[String]) -> Result<Vec<CardSummary>> {
        self.read(|c| cards::cards_in_territories(c, territories))
    }

    fn changes_by_others(
        &self,
        card_id: &str,
        after: u64,
        upto: u64,
        exclude_device: &str,
    ) -> Result<Vec<Vec<u8>>> {
        self.read(|c| cards::changes_by_others(c, card_id, after, upto, exclude_device))
    }

    fn projection(&self, card_id: &str) -> Result<Option<String>> {
        self.read(|c| cards::projection(c, card_id))
    }

    fn projections_after(
        &self,
        territories: Option<&[String]>,
        after: &str,
        limit: u32,
    ) -> Result<Vec<(String, String)>> {
        self.read(|c| cards::projections_after(c, territories, after, limit))
    }

    fn hold_changes(&self, held: &HoldRequest) -> Result<Option<u64>> {
        self.write(|tx| held::hold_changes(tx, held))
    }

    fn actor_directory(&self, card_ids: &[String]) -> Result<Vec<ActorEntry>> {
        self.read(|c| devices::actor_directory(c, card_ids))
    }

    fn company_settings(&self) -> Result<Option<StoredSettings>> {
        self.read(settings::current)
    }

    fn set_company_settings(&self, expected: u64, json: &str, by: &str, now: i64) -> Result<u64> {
        self.write(|tx| settings::set(tx, expected, json, by, now))
    }

    fn held_changes(&self, card_id: &str) -> Result<Vec<HeldChanges>> {
        self.read(|c| held::held_changes(c, card_id))
    }

    fn fallback_state(&self, device_id: &str, card_id: &str) -> Result<Option<Vec<u8>>> {
        self.read(|c| held::fallback_state(c, device_id, card_id))
    }

    fn save_fallback_state(&self, device_id: &str, card_id: &str, state: &[u8]) -> Result<()> {
        self.write(|tx| held::save_fallback_state(tx, device_id, card_id, state))
    }

    // --- manager ---
    fn index_cards(&self, query: &IndexQuery) -> Result<(Vec<IndexedCard>, u64)> {
        self.read(|c| manager::index_cards(c, query))
    }

    fn index_card(&self, card_id: &str) -> Result<Option<IndexedCard>> {
        self.read(|c| manager::index_card(c, card_id))
    }

    fn card_changes(
        &self,
        card_id: &str,
        offset: u64,
        limit: u32,
    ) -> Result<(Vec<LoggedChange>, u64)> {
        self.read(|c| manager::card_changes(c, card_id, offset, limit))
    }

    fn device_labels(&self, actors: &[Vec<u8>]) -> Result<Vec<DeviceLabel>> {
        self.read(|c| manager::device_labels(c, actors))
    }

    fn activity_counts(&self, range: &ActivityRange) -> Result<Vec<ActivityCount>> {
        self.read(|c| manager::activity_counts(c, range))
    }

    fn open_conflicts_by_territory(&self) -> Result<Vec<(String, u64)>> {
        self.read(manager::open_conflicts_by_territory)
    }

    fn held_counts_by_person(&self) -> Result<Vec<(String, u64)>> {
        self.read(manager::held_counts_by_person)
    }

    fn cards_without_index(&self, after: &str, limit: u32) -> Result<Vec<String>> {
        self.read(|c| manager::cards_without_index(c, after, limit))
    }

    fn cards_to_reclassify(&self, after: &str, limit: u32) -> Result<Vec<String>> {
        self.read(|c| manager::cards_to_reclassify(c, after, limit))
    }

    fn analysis_rows_after(
        &self,
        territories: Option<&[String]>,
        after: &str,
        limit: u32,
        with_bodies: bool,
    ) -> Result<Vec<AnalysisRow>> {
        self.read(|c| manager::analysis_rows_after(c, territories, after, limit, with_bodies))
    }

    fn analysis_rows_of(&self, card_ids: &[String]) -> Result<Vec<AnalysisRow>> {
        self.read(|c| manager::analysis_rows_of(c, card_ids))
    }

    fn card_stages(&self, card_id: &str) -> Result<Option<String>> {
        self.read(|c| manager::card_stages(c, card_id))
    }

    fn write_read_model(
        &self,
        card_id: &str,
        territory: &str,
        index: &CardIndexRow,
        change_rows: &[ChangeRow],
    ) -> Result<()> {
        self.write(|tx| manager::write_read_model(tx, card_id, territory, index, change_rows))
    }

    // --- web ---
    fn set_web_password(&self, person_id: &str, password_hash: &str, now: i64) -> Result<()> {
        self.write(|tx| web::set_password(tx, person_id, password_hash, now))
    }

    fn web_password(&self, person_id: &str) -> Result<Option<String>> {
        self.read(|c| web::password(c, person_id))
    }

    fn create_login_link(&self, link: &NewLoginLink) -> Result<()> {
        self.write(|tx| web::create_link(tx, link))
    }

    fn redeem_login_link(&self, token_hash: &str, now: i64) -> Result<Option<String>> {
        self.write(|tx| web::redeem_link(tx, token_hash, now))
    }

    fn create_web_session(&self, session: &WebSession) -> Result<()> {
        self.write(|tx| web::create_session(tx, session))
    }

    fn web_session(&self, token_hash: &str, now: i64) -> Result<Option<WebSession>> {
        self.read(|c| web::session(c, token_hash, now))
    }

    fn delete_web_session(&self, token_hash: &str) -> Result<()> {
        self.write(|tx| web::delete_session(tx, token_hash))
    }

    fn record_login_failure(&self, person_id: &str, now: i64, window_secs: i64) -> Result<u32> {
        self.write(|tx| web::record_failure(tx, person_id, now, window_secs))
    }

    fn login_failures(&self, person_id: &str, since: i64) -> Result<u32> {
        self.read(|c| web::count_failures(c, person_id, since))
    }

    fn clear_login_failures(&self, person_id: &str) -> Result<()> {
        self.write(|tx| web::clear_failures(tx, person_id))
    }

    // --- handoff ---

    fn hand_off_territory(&self, h: &TerritoryHandoff) -> Result<Assignment> {
        self.write(|tx| handoff::hand_off_territory(tx, h))
    }

    fn move_cards(&self, moves: &CardMoves) -> Result<Vec<Assignment>> {
        self.write(|tx| handoff::move_cards(tx, moves))
    }

    fn assignment_history(&self, territory_id: &str) -> Result<Vec<Assignment>> {
        self.read(|c| handoff::assignment_history(c, territory_id))
    }

    fn card_assignments(&self, card_id: &str) -> Result<Vec<Assignment>> {
        self.read(|c| handoff::card_assignments(c, card_id))
    }

    fn card_moves_after(&self, after: u64, upto: u64) -> Result<Vec<CardMove>> {
        self.read(|c| handoff::card_moves_after(c, after, upto))
    }

    fn card_lost_at(&self, person_id: &str, card_id: &str) -> Result<Option<i64>> {
        self.read(|c| handoff::card_lost_at(c, person_id, card_id))
    }

    fn server_actors(&self) -> Result<Vec<ServerActor>> {
        self.read(handoff::server_actors)
    }

    fn set_person_active(&self, person_id: &str, active: bool) -> Result<()> {
        self.write(|tx| handoff::set_person_active(tx, person_id, active))
    }

    fn held_item(&self, id: u64) -> Result<Option<HeldChanges>> {
        self.read(|c| held::held_item(c, id))
    }

    fn review_items(&self, filter: &ReviewFilter) -> Result<(Vec<ReviewItem>, u64)> {
        self.read(|c| held::review_items(c, filter))
    }

    fn decide_review(
        &self,
        decision: &ReviewDecision,
        commit: Option<&CardCommit>,
    ) -> Result<Option<CommitOutcome>> {
        self.write(|tx| held::decide_review(tx, decision, commit))
    }

    fn late_edits(&self, card_id: &str) -> Result<Vec<LateEdit>> {
        self.read(|c| handoff::late_edits(c, card_id))
    }
}
