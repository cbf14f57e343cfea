//! The PostgreSQL backend (issue 11): one database shared by any number of stateless
//! server instances.
//!
//! **Async driver, blocking trait.** [`Storage`](super::Storage) is called from blocking
//! threads (`spawn_blocking`, tests, the CLI), as SQLite needs. This backend keeps its own
//! small tokio runtime that drives `tokio-postgres` connections from a `deadpool` pool; a
//! call blocks its (blocking) thread on that runtime with `Handle::block_on`, so the
//! server's async workers never wait on the database and the connections' I/O never waits
//! on a busy server runtime.
//!
//! **Transactions.** Every write is one `READ COMMITTED` transaction ([`PgStorage::write`]).
//! Card writes stay optimistic as on SQLite (the card row is locked `FOR UPDATE` and its
//! `last_position` compared). Positions come from the single `meta.head` row, taken with
//! `UPDATE … RETURNING` as late as possible in the transaction: its row lock is held to
//! commit, so positions are handed out in commit order across all instances, which is what
//! keeps every device's cursor from skipping a change another instance commits late.
//!
//! This file owns the pool, the runtime and the transaction boundaries; each concern's SQL
//! lives in a submodule named as SQLite's.

mod cards;
mod connection;
mod devices;
mod handoff;
mod held;
pub mod import;
mod manager;
mod people;
mod schema;
mod settings;
mod web;

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::error::SqlState;

use crate::error::{Error, Result};

use super::{
    ActivityCount, ActivityRange, ActorEntry, AnalysisRow, Assignment, CardCommit, CardIndexRow,
    CardMove, CardMoves, CardSummary, ChangeRow, CommitOutcome, Device, DeviceLabel, HeldChanges,
    HoldRequest, IndexQuery, IndexedCard, LateEdit, LoggedChange, NewDevice, NewEnrolment, Person,
    ReviewDecision, ReviewFilter, ReviewItem, Role, ScopeEvent, ServerActor, ServerIdentity,
    Storage, StoredCard, StoredSettings, Territory, TerritoryHandoff,
};
use super::{NewLoginLink, WebSession};

pub(crate) use deadpool_postgres::{GenericClient, Transaction};

/// The PostgreSQL backend.
pub struct PgStorage {
    pool: Pool,
    /// For the listening connection ([`Storage::on_change`]).
    config: tokio_postgres::Config,
    tls: connection::MakeRustlsConnect,
    /// This instance, in its notifications, so it skips its own.
    instance: String,
    /// Drives the connections; dropped (and its threads stopped) with the storage.
    runtime: tokio::runtime::Runtime,
}

/// The channel card writes are announced on: one notification per transaction, sent by
/// PostgreSQL only if it commits. Payload: the writing instance's id on the first line,
/// then `last_position card_id` per card.
const CHANGES_CHANNEL: &str = "fieldbook_changes";

/// PostgreSQL refuses payloads of 8,000 bytes or more.
const MAX_PAYLOAD: usize = 7_900;

impl std::fmt::Debug for PgStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStorage")
            .field("pool", &self.pool.status())
            .finish_non_exhaustive()
    }
}

impl PgStorage {
    /// Connects to the database at `url` (a `postgres://` URL or a libpq key=value string;
    /// TLS and `pool_size` as [`connection`] says) and migrates it to this server's
    /// schema. Safe to run from several instances at once.
    pub fn connect(url: &str) -> Result<PgStorage> {
        let connection::DatabaseOptions {
            config,
            tls,
            pool_size,
        } = connection::DatabaseOptions::parse(url)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("fieldbook-pg")
            .enable_all()
            .build()
            .map_err(|e| Error::Storage(format!("database runtime: {e}")))?;
        let manager = Manager::from_config(
            config.clone(),
            tls.clone(),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = {
            let _in_runtime = runtime.enter();
            Pool::builder(manager)
                .max_size(pool_size)
                .wait_timeout(Some(Duration::from_secs(30)))
                .create_timeout(Some(Duration::from_secs(10)))
                .runtime(deadpool_postgres::Runtime::Tokio1)
                .build()
                .map_err(|e| Error::Storage(format!("database pool: {e}")))?
        };
        let storage = PgStorage {
            pool,
            config,
            tls,
            instance: uuid::Uuid::new_v4().simple().to_string(),
            runtime,
        };
        storage.write(async |tx| schema::migrate(tx).await)?;
        Ok(storage)
    }

    /// Runs `f` on a pooled connection outside any explicit transaction (each statement
    /// its own snapshot); for reads.
    pub(crate) fn read<T>(
        &self,
        f: impl AsyncFnOnce(&deadpool_postgres::Client) -> Result<T>,
    ) -> Result<T> {
        self.runtime.handle().block_on(async {
            let client = self.pool.get().await.map_err(pool_error)?;
            f(&client).await
        })
    }

    /// Runs `f` in one transaction on a pooled connection and commits it; an error rolls
    /// it back (the transaction is dropped unfinished) and is returned.
    pub(crate) fn write<T>(&self, f: impl AsyncFnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        self.runtime.handle().block_on(async {
            let mut client = self.pool.get().await.map_err(pool_error)?;
            let tx = client.transaction().await.map_err(pg)?;
            let out = f(&tx).await?;
            tx.commit().await.map_err(pg)?;
            Ok(out)
        })
    }
}

impl PgStorage {
    /// The database's size on disk (`pg_database_size`) and its number of cards, for
    /// benchmarks and operators.
    pub fn database_size(&self) -> Result<(u64, u64)> {
        self.read(async |c| {
            let row = c
                .query_one(
                    "SELECT pg_database_size(current_database()), (SELECT count(*) FROM cards)",
                    &[],
                )
                .await
                .map_err(pg)?;
            Ok((pos(row.get(0)), pos(row.get(1))))
        })
    }

    /// Announces the written cards to the other instances, inside the writing
    /// transaction (delivered on commit, never for a rolled-back write).
    async fn announce(
        &self,
        tx: &Transaction<'_>,
        written: impl Iterator<Item = (&str, u64)>,
    ) -> Result<()> {
        let mut payload = self.instance.clone();
        let header = payload.len();
        for (card_id, last_position) in written {
            let line = format!("\n{last_position} {card_id}");
            if payload.len() + line.len() > MAX_PAYLOAD && payload.len() > header {
                notify(tx, &payload).await?;
                payload.truncate(header);
            }
            payload.push_str(&line);
        }
        if payload.len() > header {
            notify(tx, &payload).await?;
        }
        Ok(())
    }

    /// Listens for other instances' card writes on a connection of its own, reconnecting
    /// after a failure. Notifications sent while it is disconnected are lost: they are
    /// hints (see [`StorageEvent`]), and readers check stored positions anyway.
    fn listen(&self, listener: crate::storage::StorageListener) {
        let config = self.config.clone();
        let tls = self.tls.clone();
        let instance = self.instance.clone();
        self.runtime.spawn(async move {
            let mut backoff = Duration::from_millis(100);
            loop {
                match listen_once(&config, &tls, &instance, &listener).await {
                    Ok(()) => backoff = Duration::from_millis(100),
                    Err(e) => tracing::warn!(code = e.code(), "change notifications interrupted"),
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        });
    }
}

async fn notify(tx: &Transaction<'_>, payload: &str) -> Result<()> {
    tx.execute("SELECT pg_notify($1, $2)", &[&CHANGES_CHANNEL, &payload])
        .await
        .map_err(pg)?;
    Ok(())
}

/// One listening connection, until it fails or closes.
async fn listen_once(
    config: &tokio_postgres::Config,
    tls: &connection::MakeRustlsConnect,
    instance: &str,
    listener: &crate::storage::StorageListener,
) -> Result<()> {
    let (client, mut connection) = config.connect(tls.clone()).await.map_err(pg)?;
    // The client issues LISTEN (and is kept alive) on a task of its own while this one
    // drives the connection, which is where notifications arrive.
    let holder = tokio::spawn(async move {
        let listening = client
            .batch_execute(&format!("LISTEN {CHANGES_CHANNEL}"))
            .await;
        if listening.is_ok() {
            std::future::pending::<()>().await;
        }
        drop(client);
    });
    let out = loop {
        match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
            Some(Ok(tokio_postgres::AsyncMessage::Notification(n))) => {
                for event in parse_notification(n.payload(), instance) {
                    listener(event);
                }
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => break Err(pg(e)),
            None => break Ok(()),
        }
    };
    holder.abort();
    out
}

/// The events of one notification, none if this instance sent it.
fn parse_notification(payload: &str, own: &str) -> Vec<crate::storage::StorageEvent> {
    let mut lines = payload.lines();
    if lines.next().is_none_or(|sender| sender == own) {
        return Vec::new();
    }
    lines
        .filter_map(|line| {
            let (position, card_id) = line.split_once(' ')?;
            Some(crate::storage::StorageEvent::CardChanged {
                card_id: card_id.to_owned(),
                last_position: position.parse().ok()?,
            })
        })
        .collect()
}

/// The error of a database call, mapped to what the rest of the server acts on: a full
/// disk, a read-only server, a serialization failure or deadlock (the caller's optimistic
/// retry), else a storage error with the database's message (no parameters: they may hold
/// customer data).
pub(crate) fn pg(e: tokio_postgres::Error) -> Error {
    match e.code() {
        Some(c) if *c == SqlState::DISK_FULL || *c == SqlState::INSUFFICIENT_RESOURCES => {
            Error::StorageFull
        }
        Some(c) if *c == SqlState::READ_ONLY_SQL_TRANSACTION => Error::ReadOnly,
        Some(c)
            if *c == SqlState::T_R_SERIALIZATION_FAILURE
                || *c == SqlState::T_R_DEADLOCK_DETECTED =>
        {
            Error::Conflict
        }
        _ => Error::Storage(match e.as_db_error() {
            Some(db) => format!("database: {} ({})", db.message(), db.code().code()),
            // tokio-postgres' own message names only the kind ("error performing TLS
            // handshake"); the cause (an unknown issuer, a refused connection) is what an
            // operator needs, so the source chain goes with it.
            None => {
                let mut message = format!("database: {e}");
                let mut cause = std::error::Error::source(&e);
                while let Some(c) = cause {
                    message.push_str(": ");
                    message.push_str(&c.to_string());
                    cause = c.source();
                }
                message
            }
        }),
    }
}

fn pool_error(e: deadpool_postgres::PoolError) -> Error {
    match e {
        deadpool_postgres::PoolError::Backend(e) => pg(e),
        other => Error::Storage(format!("database pool: {other}")),
    }
}

pub(crate) fn pos(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

pub(crate) fn sql_pos(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl Storage for PgStorage {
    fn identity(&self) -> Result<ServerIdentity> {
        self.read(async |c| schema::identity(c).await)
    }

    fn add_person(&self, person: &Person) -> Result<()> {
        self.write(async |tx| people::add_person(tx, person).await)
    }

    fn person(&self, id: &str) -> Result<Option<Person>> {
        self.read(async |c| people::person(c, id).await)
    }

    fn people(&self) -> Result<Vec<Person>> {
        self.read(async |c| people::people(c).await)
    }

    fn add_territory(&self, id: &str, name: &str, manager: Option<&str>) -> Result<()> {
        self.write(async |tx| people::add_territory(tx, id, name, manager).await)
    }

    fn assign_territory(&self, territory_id: &str, rep_id: &str, now: i64) -> Result<u64> {
        self.write(async |tx| people::assign_territory(tx, territory_id, rep_id, now).await)
    }

    fn territory_lost_at(&self, person_id: &str, territory_id: &str) -> Result<Option<i64>> {
        self.read(async |c| people::territory_lost_at(c, person_id, territory_id).await)
    }

    fn territory(&self, id: &str) -> Result<Option<Territory>> {
        self.read(async |c| people::territory(c, id).await)
    }

    fn territories(&self) -> Result<Vec<Territory>> {
        self.read(async |c| people::territories(c).await)
    }

    fn territories_of(&self, person_id: &str, role: Role) -> Result<Vec<String>> {
        self.read(async |c| people::territories_of(c, person_id, role).await)
    }

    fn scope_events_after(&self, person_id: &str, after: u64) -> Result<Vec<ScopeEvent>> {
        self.read(async |c| people::scope_events_after(c, person_id, after).await)
    }

    fn create_enrolment(&self, e: &NewEnrolment) -> Result<()> {
        self.write(async |tx| devices::create_enrolment(tx, e).await)
    }

    fn redeem_enrolment(&self, token_hash: &str, d: &NewDevice) -> Result<Device> {
        self.write(async |tx| devices::redeem_enrolment(tx, token_hash, d).await)
    }

    fn device_by_token_hash(&self, token_hash: &str) -> Result<Option<Device>> {
        self.read(async |c| devices::device_by_token_hash(c, token_hash).await)
    }

    fn device(&self, id: &str) -> Result<Option<Device>> {
        self.read(async |c| devices::device(c, id).await)
    }

    fn devices(&self) -> Result<Vec<Device>> {
        self.read(async |c| devices::devices(c).await)
    }

    fn rekey_device(&self, device_id: &str, actor: &[u8], now: i64) -> Result<Device> {
        self.write(async |tx| devices::rekey_device(tx, device_id, actor, now).await)
    }

    fn revoke_device(&self, id: &str) -> Result<()> {
        self.write(async |tx| devices::revoke_device(tx, id).await)
    }

    fn record_sync(&self, device_id: &str, now: i64) -> Result<()> {
        self.write(async |tx| devices::record_sync(tx, device_id, now).await)
    }

    fn head_position(&self) -> Result<u64> {
        self.read(async |c| cards::head_position(c).await)
    }

    fn log_len(&self) -> Result<u64> {
        self.read(async |c| cards::log_len(c).await)
    }

    fn card(&self, card_id: &str) -> Result<Option<StoredCard>> {
        self.read(async |c| cards::card(c, card_id).await)
    }

    fn on_change(&self, listener: crate::storage::StorageListener) {
        self.listen(listener);
    }

    fn commit_card(&self, commit: &CardCommit) -> Result<CommitOutcome> {
        self.write(async |tx| {
            let outcome = cards::commit_one(tx, commit).await?;
            if outcome.appended > 0 {
                let written = std::iter::once((commit.card_id.as_str(), outcome.last_position));
                self.announce(tx, written).await?;
            }
            Ok(outcome)
        })
    }

    fn commit_cards(&self, commits: &[CardCommit]) -> Result<Vec<Result<CommitOutcome>>> {
        self.write(async |tx| {
            let outcomes = cards::commit_cards(tx, commits).await?;
            let written = commits.iter().zip(&outcomes).filter_map(|(c, o)| match o {
                Ok(o) if o.appended > 0 => Some((c.card_id.as_str(), o.last_position)),
                _ => None,
            });
            self.announce(tx, written).await?;
            Ok(outcomes)
        })
    }

    fn cards_changed_by_others(
        &self,
        territories: &[String],
        after: u64,
        upto: u64,
        exclude_device: &str,
    ) -> Result<Vec<CardSummary>> {
        self.read(async |c| {
            cards::cards_changed_by_others(c, territories, after, upto, exclude_device).await
        })
    }

    fn cards_in_territories(&self, territories: &[String]) -> Result<Vec<CardSummary>> {
        self.read(async |c| cards::cards_in_territories(c, territories).await)
    }

    fn changes_by_others(
        &self,
        card_id: &str,
        after: u64,
        upto: u64,
        exclude_device: &str,
    ) -> Result<Vec<Vec<u8>>> {
        self.read(async |c| cards::changes_by_others(c, card_id, after, upto, exclude_device).await)
    }

    fn projection(&self, card_id: &str) -> Result<Option<String>> {
        self.read(async |c| cards::projection(c, card_id).await)
    }

    fn projections_after(
        &self,
        territories: Option<&[String]>,
        after: &str,
        limit: u32,
    ) -> Result<Vec<(String, String)>> {
        self.read(async |c| cards::projections_after(c, territories, after, limit).await)
    }

    fn hold_changes(&self, held: &HoldRequest) -> Result<Option<u64>> {
        self.write(async |tx| held::hold_changes(tx, held).await)
    }

    fn actor_directory(&self, card_ids: &[String]) -> Result<Vec<ActorEntry>> {
        self.read(async |c| devices::actor_directory(c, card_ids).await)
    }

    fn company_settings(&self) -> Result<Option<StoredSettings>> {
        self.read(async |c| settings::current(c).await)
    }

    fn set_company_settings(&self, expected: u64, json: &str, by: &str, now: i64) -> Result<u64> {
        self.write(async |tx| settings::set(tx, expected, json, by, now).await)
    }

    fn held_changes(&self, card_id: &str) -> Result<Vec<HeldChanges>> {
        self.read(async |c| held::held_changes(c, card_id).await)
    }

    fn fallback_state(&self, device_id: &str, card_id: &str) -> Result<Option<Vec<u8>>> {
        self.read(async |c| held::fallback_state(c, device_id, card_id).await)
    }

    fn save_fallback_state(&self, device_id: &str, card_id: &str, state: &[u8]) -> Result<()> {
        self.write(async |tx| held::save_fallback_state(tx, device_id, card_id, state).await)
    }

    // --- manager ---
    fn index_cards(&self, query: &IndexQuery) -> Result<(Vec<IndexedCard>, u64)> {
        self.read(async |c| manager::index_cards(c, query).await)
    }

    fn index_card(&self, card_id: &str) -> Result<Option<IndexedCard>> {
        self.read(async |c| manager::index_card(c, card_id).await)
    }

    fn card_changes(
        &self,
        card_id: &str,
        offset: u64,
        limit: u32,
    ) -> Result<(Vec<LoggedChange>, u64)> {
        self.read(async |c| manager::card_changes(c, card_id, offset, limit).await)
    }

    fn device_labels(&self, actors: &[Vec<u8>]) -> Result<Vec<DeviceLabel>> {
        self.read(async |c| manager::device_labels(c, actors).await)
    }

    fn activity_counts(&self, range: &ActivityRange) -> Result<Vec<ActivityCount>> {
        self.read(async |c| manager::activity_counts(c, range).await)
    }

    fn open_conflicts_by_territory(&self) -> Result<Vec<(String, u64)>> {
        self.read(async |c| manager::open_conflicts_by_territory(c).await)
    }

    fn held_counts_by_person(&self) -> Result<Vec<(String, u64)>> {
        self.read(async |c| manager::held_counts_by_person(c).await)
    }

    fn cards_without_index(&self, after: &str, limit: u32) -> Result<Vec<String>> {
        self.read(async |c| manager::cards_without_index(c, after, limit).await)
    }

    fn cards_to_reclassify(&self, after: &str, limit: u32) -> Result<Vec<String>> {
        self.read(async |c| manager::cards_to_reclassify(c, after, limit).await)
    }

    fn analysis_rows_after(
        &self,
        territories: Option<&[String]>,
        after: &str,
        limit: u32,
        with_bodies: bool,
    ) -> Result<Vec<AnalysisRow>> {
        self.read(async |c| {
            manager::analysis_rows_after(c, territories, after, limit, with_bodies).await
        })
    }

    fn analysis_rows_of(&self, card_ids: &[String]) -> Result<Vec<AnalysisRow>> {
        self.read(async |c| manager::analysis_rows_of(c, card_ids).await)
    }

    fn card_stages(&self, card_id: &str) -> Result<Option<String>> {
        self.read(async |c| manager::card_stages(c, card_id).await)
    }

    fn write_read_model(
        &self,
        card_id: &str,
        territory: &str,
        index: &CardIndexRow,
        change_rows: &[ChangeRow],
    ) -> Result<()> {
        self.write(async |tx| {
            manager::write_read_model(tx, card_id, territory, index, change_rows).await
        })
    }

    // --- web ---
    fn set_web_password(&self, person_id: &str, password_hash: &str, now: i64) -> Result<()> {
        self.write(async |tx| web::set_password(tx, person_id, password_hash, now).await)
    }

    fn web_password(&self, person_id: &str) -> Result<Option<String>> {
        self.read(async |c| web::password(c, person_id).await)
    }

    fn create_login_link(&self, link: &NewLoginLink) -> Result<()> {
        self.write(async |tx| web::create_link(tx, link).await)
    }

    fn redeem_login_link(&self, token_hash: &str, now: i64) -> Result<Option<String>> {
        self.write(async |tx| web::redeem_link(tx, token_hash, now).await)
    }

    fn create_web_session(&self, session: &WebSession) -> Result<()> {
        self.write(async |tx| web::create_session(tx, session).await)
    }

    fn web_session(&self, token_hash: &str, now: i64) -> Result<Option<WebSession>> {
        self.read(async |c| web::session(c, token_hash, now).await)
    }

    fn delete_web_session(&self, token_hash: &str) -> Result<()> {
        self.write(async |tx| web::delete_session(tx, token_hash).await)
    }

    fn record_login_failure(&self, person_id: &str, now: i64, window_secs: i64) -> Result<u32> {
        self.write(async |tx| web::record_failure(tx, person_id, now, window_secs).await)
    }

    fn login_failures(&self, person_id: &str, since: i64) -> Result<u32> {
        self.read(async |c| web::count_failures(c, person_id, since).await)
    }

    fn clear_login_failures(&self, person_id: &str) -> Result<()> {
        self.write(async |tx| web::clear_failures(tx, person_id).await)
    }

    // --- handoff ---

    fn hand_off_territory(&self, h: &TerritoryHandoff) -> Result<Assignment> {
        self.write(async |tx| handoff::hand_off_territory(tx, h).await)
    }

    fn move_cards(&self, moves: &CardMoves) -> Result<Vec<Assignment>> {
        self.write(async |tx| handoff::move_cards(tx, moves).await)
    }

    fn assignment_history(&self, territory_id: &str) -> Result<Vec<Assignment>> {
        self.read(async |c| handoff::assignment_history(c, territory_id).await)
    }

    fn card_assignments(&self, card_id: &str) -> Result<Vec<Assignment>> {
        self.read(async |c| handoff::card_assignments(c, card_id).await)
    }

    fn card_moves_after(&self, after: u64, upto: u64) -> Result<Vec<CardMove>> {
        self.read(async |c| handoff::card_moves_after(c, after, upto).await)
    }

    fn card_lost_at(&self, person_id: &str, card_id: &str) -> Result<Option<i64>> {
        self.read(async |c| handoff::card_lost_at(c, person_id, card_id).await)
    }

    fn server_actors(&self) -> Result<Vec<ServerActor>> {
        self.read(async |c| handoff::server_actors(c).await)
    }

    fn set_person_active(&self, person_id: &str, active: bool) -> Result<()> {
        self.write(async |tx| handoff::set_person_active(tx, person_id, active).await)
    }

    fn held_item(&self, id: u64) -> Result<Option<HeldChanges>> {
        self.read(async |c| held::held_item(c, id).await)
    }

    fn review_items(&self, filter: &ReviewFilter) -> Result<(Vec<ReviewItem>, u64)> {
        self.read(async |c| held::review_items(c, filter).await)
    }

    fn decide_review(
        &self,
        decision: &ReviewDecision,
        commit: Option<&CardCommit>,
    ) -> Result<Option<CommitOutcome>> {
        self.write(async |tx| held::decide_review(tx, decision, commit).await)
    }

    fn late_edits(&self, card_id: &str) -> Result<Vec<LateEdit>> {
        self.read(async |c| handoff::late_edits(c, card_id).await)
    }
}

/// A database of its own for one test (or one benchmark run), created on the server at
/// `admin_url` and dropped with this value, so tests run in parallel against one server
/// without seeing each other's rows.
#[derive(Debug)]
pub struct ScratchDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl ScratchDatabase {
    /// Creates an empty database with a fresh name on the server at `admin_url` (a URL
    /// whose user may create databases).
    pub fn create(admin_url: &str) -> Result<ScratchDatabase> {
        let name = format!("fieldbook_test_{}", uuid::Uuid::new_v4().simple());
        let url = with_database(admin_url, &name)?;
        admin(admin_url, &format!("CREATE DATABASE {name}"))?;
        Ok(ScratchDatabase {
            admin_url: admin_url.to_owned(),
            name,
            url,
        })
    }

    /// A new scratch database holding a copy of this one (`CREATE DATABASE … TEMPLATE`,
    /// a file copy: fast for a benchmark's frozen set-up). Nothing may be connected to
    /// this one meanwhile.
    pub fn copy(&self) -> Result<ScratchDatabase> {
        let name = format!("fieldbook_test_{}", uuid::Uuid::new_v4().simple());
        let url = with_database(&self.admin_url, &name)?;
        let sql = format!("CREATE DATABASE {name} TEMPLATE {}", self.name);
        // A connection just closed may not have left the server yet ("being accessed by
        // other users"): a few tries.
        let mut tries = 0;
        while let Err(e) = admin(&self.admin_url, &sql) {
            tries += 1;
            if tries == 20 {
                return Err(e);
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        Ok(ScratchDatabase {
            admin_url: self.admin_url.clone(),
            name,
            url,
        })
    }

    /// The database's `postgres://` URL, for [`PgStorage::connect`] or `--db`.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        if let Err(e) = admin(&self.admin_url, &sql) {
            tracing::warn!(code = e.code(), "scratch database left behind");
        }
    }
}

/// Runs one statement outside any transaction (`CREATE DATABASE` cannot run in one).
fn admin(url: &str, sql: &str) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Storage(format!("database runtime: {e}")))?;
    runtime.block_on(async {
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .map_err(pg)?;
        let driver = tokio::spawn(connection);
        let out = client.batch_execute(sql).await.map_err(pg);
        drop(client);
        let _ = driver.await;
        out
    })
}

/// `admin_url` (a `postgres://` URL) with its database replaced by `name`.
fn with_database(admin_url: &str, name: &str) -> Result<String> {
    let Some(scheme_end) = admin_url.find("://") else {
        return Err(Error::Storage(
            "a scratch database needs a postgres:// URL".into(),
        ));
    };
    let rest = &admin_url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let query = rest[authority_end..]
        .find('?')
        .map(|i| &rest[authority_end + i..]);
    Ok(format!(
        "{}{}/{name}{}",
        &admin_url[..scheme_end + 3],
        &rest[..authority_end],
        query.unwrap_or("")
    ))
}

#[cfg(test)]
mod tests {
    //! The classic gap of sequence numbers allocated before commit, forced: instance A
    //! takes a position and stalls before committing; instance B commits after it. Were
    //! positions a sequence, B's (higher) position would be visible first, a device
    //! syncing then would move its cursor past it, and A's change, committed later with a
    //! lower position, would never reach that device. Here B cannot commit before A.

    use std::sync::Arc;

    use super::*;
    use crate::storage::{CardCommit, NewChange, Storage};

    fn commit(card: &str, n: u8, device: &str) -> CardCommit {
        let change = NewChange {
            hash: [n; 32],
            bytes: vec![n; 8],
        };
        CardCommit {
            card_id: card.into(),
            territory: "华东区".into(),
            expected_last_position: None,
            doc: vec![n],
            heads: vec![[n; 32]],
            projection: r#"{"name":"上海某某贸易"}"#.into(),
            changes: vec![change],
            late: false,
            device_id: device.into(),
            received_at: 1_700_000_000,
            index: Default::default(),
            change_rows: Vec::new(),
        }
    }

    fn test_server() -> Option<String> {
        let url = std::env::var("FIELDBOOK_TEST_PG")
            .ok()
            .filter(|u| !u.is_empty());
        if url.is_none() {
            assert!(
                std::env::var_os("FIELDBOOK_REQUIRE_POSTGRES").is_none(),
                "FIELDBOOK_REQUIRE_POSTGRES is set but FIELDBOOK_TEST_PG is not"
            );
            eprintln!("FIELDBOOK_TEST_PG is not set: PostgreSQL test skipped");
        }
        url
    }

    #[test]
    fn two_instances_writing_the_same_cards_in_opposite_orders_never_deadlock() {
        let Some(admin) = test_server() else {
            return;
        };
        let db = ScratchDatabase::create(&admin).expect("scratch database");
        let setup = PgStorage::connect(db.url()).expect("setup");
        for (i, card) in ["甲", "乙"].iter().enumerate() {
            let n = u8::try_from(i + 1).expect("small");
            setup.commit_card(&commit(card, n, "dev")).expect("create");
        }
        let run = |order: [&'static str; 2], base: u8| {
            let url = db.url().to_owned();
            std::thread::spawn(move || {
                let s = PgStorage::connect(&url).expect("instance");
                let mut written = 0;
                for round in 0..40u8 {
                    let commits: Vec<CardCommit> = order
                        .iter()
                        .enumerate()
                        .map(|(i, card)| {
                            let stored = s.card(card).expect("read").expect("stored");
                            let mut c = commit(card, 0, "dev");
                            c.expected_last_position = Some(stored.last_position);
                            let tag = [base, round, u8::try_from(i).expect("small")];
                            c.changes[0].hash = [0; 32];
                            c.changes[0].hash[..3].copy_from_slice(&tag);
                            c
                        })
                        .collect();
                    // A deadlock would fail the whole transaction; a stale card only
                    // its own slot.
                    let outcomes = s.commit_cards(&commits).expect("no deadlock");
                    written += outcomes.iter().filter(|o| o.is_ok()).count();
                }
                written
            })
        };
        let a = run(["甲", "乙"], 10);
        let b = run(["乙", "甲"], 20);
        let written = a.join().expect("A") + b.join().expect("B");
        let log = setup.log_len().expect("log");
        assert_eq!(log, 2 + written as u64, "each written change once");
    }

    /// The test server's CA certificate (scripts/postgres-test-server makes one), if TLS
    /// is to be tested.
    fn test_ca() -> Option<String> {
        let ca = std::env::var("FIELDBOOK_TEST_PG_CA")
            .ok()
            .filter(|u| !u.is_empty());
        if ca.is_none() {
            assert!(
                std::env::var_os("FIELDBOOK_REQUIRE_POSTGRES").is_none(),
                "FIELDBOOK_REQUIRE_POSTGRES is set but FIELDBOOK_TEST_PG_CA is not"
            );
            eprintln!("FIELDBOOK_TEST_PG_CA is not set: TLS to PostgreSQL not tested");
        }
        ca
    }

    fn over_tls(storage: &PgStorage) -> bool {
        storage
            .read(async |c| {
                let row = c
                    .query_one(
                        "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                        &[],
                    )
                    .await
                    .map_err(pg)?;
                Ok(row.get::<_, bool>(0))
            })
            .expect("pg_stat_ssl")
    }

    #[test]
    fn tls_to_the_database_is_encrypted_and_verified() {
        let (Some(admin), Some(ca)) = (test_server(), test_ca()) else {
            return;
        };
        let db = ScratchDatabase::create(&admin).expect("scratch database");
        let url = |options: &str| {
            let sep = if db.url().contains('?') { '&' } else { '?' };
            format!("{}{sep}{options}", db.url())
        };
        let ca = ca.replace('%', "%25").replace(' ', "%20");

        let tls = PgStorage::connect(&url(&format!("sslmode=verify-full&sslrootcert={ca}")))
            .expect("a verified TLS connection");
        assert!(over_tls(&tls), "the pooled connections are encrypted");
        let plain = PgStorage::connect(db.url()).expect("plain");
        assert!(!over_tls(&plain), "no TLS unless asked");

        // The test server's certificate is signed by its own CA, which the public roots
        // do not hold: `require` verifies (unlike libpq's), so it is refused.
        let err = PgStorage::connect(&url("sslmode=require")).expect_err("unknown issuer");
        assert!(err.to_string().contains("certificate"), "{err}");
        // The certificate names 127.0.0.1 only: another name for the same server is not
        // it, as far as verification goes.
        let by_name = url(&format!("sslmode=verify-full&sslrootcert={ca}"))
            .replace("@127.0.0.1:", "@localhost:");
        assert_ne!(
            by_name,
            url(&format!("sslmode=verify-full&sslrootcert={ca}"))
        );
        let err = PgStorage::connect(&by_name).expect_err("name mismatch");
        assert!(err.to_string().contains("certificate"), "{err}");
    }

    #[test]
    fn a_cursor_cannot_pass_a_change_another_instance_commits_late() {
        let Some(admin) = test_server() else {
            return;
        };
        let db = ScratchDatabase::create(&admin).expect("scratch database");
        let a = Arc::new(PgStorage::connect(db.url()).expect("instance A"));
        let b = Arc::new(PgStorage::connect(db.url()).expect("instance B"));
        let before = b.head_position().expect("head");

        // A: the card's rows and its position written, then held open.
        let (taken_tx, taken_rx) = std::sync::mpsc::channel::<u64>();
        let (release_tx, release_rx) = tokio::sync::oneshot::channel::<()>();
        let stalled = {
            let a = a.clone();
            std::thread::spawn(move || {
                a.write(async |tx| {
                    let outcome = cards::commit_cards(tx, &[commit("甲-card", 1, "dev-a")])
                        .await?
                        .pop()
                        .ok_or_else(|| Error::Internal("no outcome".into()))??;
                    let _ = taken_tx.send(outcome.last_position);
                    let _ = release_rx.await;
                    Ok(outcome.last_position)
                })
            })
        };
        let a_position = taken_rx.recv().expect("A took its position");
        assert_eq!(a_position, before + 1);

        // B commits another card meanwhile, on its own connections.
        let racing = {
            let b = b.clone();
            std::thread::spawn(move || b.commit_card(&commit("乙-card", 2, "dev-b")))
        };
        // B is waiting for A's transaction (the position head's lock), as PostgreSQL
        // itself reports; until then, nothing of either is visible.
        let waiting = "SELECT count(*) FROM pg_stat_activity \
                       WHERE datname = current_database() AND wait_event_type = 'Lock'";
        let mut seen_waiting = false;
        for _ in 0..600 {
            let n: i64 = b
                .read(async |c| Ok(c.query_one(waiting, &[]).await.map_err(pg)?.get(0)))
                .expect("activity");
            if n > 0 {
                seen_waiting = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(seen_waiting, "B must wait for A's commit");
        assert!(!racing.is_finished(), "B committed before A");
        assert_eq!(
            b.head_position().expect("head"),
            before,
            "nothing visible yet"
        );
        let territories = vec!["华东区".to_owned()];
        let visible = b
            .cards_changed_by_others(&territories, before, u64::MAX, "another-device")
            .expect("pull");
        assert!(visible.is_empty(), "a cursor sees neither card yet");

        // A commits; then B gets the next position.
        release_tx.send(()).expect("release A");
        assert_eq!(stalled.join().expect("A").expect("A commits"), a_position);
        let b_outcome = racing.join().expect("B").expect("B commits");
        assert_eq!(b_outcome.last_position, a_position + 1);

        // A cursor sees them in position order, A's first: one taken after B's commit
        // cannot have skipped A's.
        let seen = b
            .cards_changed_by_others(&territories, before, u64::MAX, "another-device")
            .expect("pull");
        let order: Vec<(&str, u64)> = seen
            .iter()
            .map(|c| (c.card_id.as_str(), c.last_position))
            .collect();
        assert_eq!(
            order,
            vec![("甲-card", a_position), ("乙-card", a_position + 1)]
        );
        assert_eq!(b.head_position().expect("head"), before + 2);
    }

    #[test]
    fn other_instances_hear_of_committed_cards_and_never_of_rolled_back_ones() {
        let Some(admin) = test_server() else {
            return;
        };
        let db = ScratchDatabase::create(&admin).expect("scratch database");
        let a = PgStorage::connect(db.url()).expect("instance A");
        let b = PgStorage::connect(db.url()).expect("instance B");
        let (heard_b, from_b) = std::sync::mpsc::channel();
        b.on_change(Box::new(move |e| {
            let _ = heard_b.send(e);
        }));
        let (heard_a, from_a) = std::sync::mpsc::channel();
        a.on_change(Box::new(move |e| {
            let _ = heard_a.send(e);
        }));
        // The listeners connect on their own: wait until both are listening.
        let listening = "SELECT count(*) FROM pg_stat_activity \
                         WHERE datname = current_database() AND query LIKE 'LISTEN %'";
        for _ in 0..600 {
            let n: i64 = b
                .read(async |c| Ok(c.query_one(listening, &[]).await.map_err(pg)?.get(0)))
                .expect("activity");
            if n >= 2 {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // A rolled-back write announces nothing: a stale commit, then a real one.
        let mut stale = commit("丙-card", 3, "dev-a");
        stale.expected_last_position = Some(99);
        assert!(matches!(a.commit_card(&stale), Err(Error::Conflict)));
        let written = a
            .commit_card(&commit("丙-card", 3, "dev-a"))
            .expect("commit");
        let event = from_b
            .recv_timeout(Duration::from_secs(30))
            .expect("B hears of A's write");
        assert_eq!(
            event,
            crate::storage::StorageEvent::CardChanged {
                card_id: "丙-card".into(),
                last_position: written.last_position,
            }
        );
        // B's own write: A hears of it, B does not.
        let mut next = commit("丙-card", 4, "dev-b");
        next.expected_last_position = Some(written.last_position);
        let second = b.commit_card(&next).expect("commit");
        let event = from_a
            .recv_timeout(Duration::from_secs(30))
            .expect("A hears of B's write");
        assert_eq!(
            event,
            crate::storage::StorageEvent::CardChanged {
                card_id: "丙-card".into(),
                last_position: second.last_position,
            }
        );
        assert!(from_b.try_recv().is_err(), "B does not hear its own write");
        assert!(from_a.try_recv().is_err(), "nothing for the stale write");
    }
}
