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
mod devices;
mod handoff;
mod held;
mod manager;
mod people;
mod schema;
mod settings;
mod web;

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

use crate::error::{Error, Result};

pub(crate) use deadpool_postgres::{GenericClient, Transaction};

/// Connections per instance, unless the URL's `pool_size` says otherwise: enough for the
/// blocking threads a busy instance keeps in the database at once.
const DEFAULT_POOL: usize = 16;

/// The PostgreSQL backend.
pub struct PgStorage {
    pool: Pool,
    /// Drives the connections; dropped (and its threads stopped) with the storage.
    runtime: tokio::runtime::Runtime,
}

impl std::fmt::Debug for PgStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStorage")
            .field("pool", &self.pool.status())
            .finish_non_exhaustive()
    }
}

impl PgStorage {
    /// Connects to the database at `url` (a `postgres://` URL or a libpq key=value string)
    /// and migrates it to this server's schema. Safe to run from several instances at once.
    pub fn connect(url: &str) -> Result<PgStorage> {
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| Error::Storage(format!("bad database URL: {}", redact(&e))))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("fieldbook-pg")
            .enable_all()
            .build()
            .map_err(|e| Error::Storage(format!("database runtime: {e}")))?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = {
            let _in_runtime = runtime.enter();
            Pool::builder(manager)
                .max_size(DEFAULT_POOL)
                .wait_timeout(Some(Duration::from_secs(30)))
                .create_timeout(Some(Duration::from_secs(10)))
                .runtime(deadpool_postgres::Runtime::Tokio1)
                .build()
                .map_err(|e| Error::Storage(format!("database pool: {e}")))?
        };
        let storage = PgStorage { pool, runtime };
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
            None => format!("database: {e}"),
        }),
    }
}

fn pool_error(e: deadpool_postgres::PoolError) -> Error {
    match e {
        deadpool_postgres::PoolError::Backend(e) => pg(e),
        other => Error::Storage(format!("database pool: {other}")),
    }
}

/// A URL parse error without the URL (it may carry a password).
fn redact(e: &tokio_postgres::Error) -> String {
    let s = e.to_string();
    if s.contains('@') || s.contains("password") {
        "the URL does not parse".into()
    } else {
        s
    }
}

pub(crate) fn pos(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

pub(crate) fn sql_pos(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}
