//! fieldbook-server: the sync server of Fieldbook.
//!
//! Devices enrol with a one-time token, then sync customer cards (Automerge documents) in
//! one round trip: `POST /v1/sync` carries the device's cursor and its new changes, the
//! answer carries acknowledgements, other devices' changes, the new cursor and revocations.
//! The server validates every change by applying it, refuses changes not made by the
//! calling device and its person, keeps an append-only change log, a compacted document and
//! a JSON projection per card, and scopes everything by territory.
//!
//! Entry points:
//! - [`app`] builds the axum [`Router`] over an [`AppState`];
//! - [`run`] serves it on a listener until a shutdown future resolves (graceful);
//! - [`spawn`] starts a server on its own thread and runtime, for tests and tools that are
//!   not async themselves (e.g. `spawn(state_for_sqlite(path, Config::default())?, addr)`);
//! - [`seed_cards`] loads already-built card documents (the demo company comes from core).
//!
//! Module map: [`wire`](fieldbook_core::sync::wire) (in core) is the byte format;
//! [`sync`] the engine; [`fallback`] the `automerge::sync` path; [`auth`] tokens and
//! cursors; [`admin`] administration; [`storage`] the backend trait, SQLite and the
//! conformance suite; [`cache`] loaded documents kept above storage; [`projection`] the
//! JSON of a card's values; [`http`] routes and the per-request checks that run before a
//! body is read; [`limits`] per-device and per-request bounds; [`serve`] the connection
//! loop (connection cap, timeouts, graceful shutdown); [`metrics`] Prometheus; [`error`]
//! codes; [`web`] the manager's dashboard (login, sessions, pages, charts).

pub mod admin;
pub mod approval;
pub mod auth;
pub mod cache;
pub mod card_locks;
pub mod clock;
pub mod demo;
pub mod error;
pub mod fallback;
pub mod handoff;
pub mod http;
pub mod limits;
pub mod manager;
pub mod metrics;
pub mod projection;
pub mod receive_time;
pub mod rekey;
pub mod review;
pub mod serve;
pub mod storage;
pub mod sync;
pub mod viewer;
pub mod web;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use automerge::Automerge;
use axum::Router;
use tokio::net::TcpListener;

pub use error::{Error, Result};
use storage::{CardCommit, ServerIdentity, Storage};

/// Server limits and policies.
#[derive(Clone, Debug)]
pub struct Config {
    /// Largest accepted request body (compressed), in bytes; above it: 413.
    pub max_body_bytes: usize,
    /// Largest decompressed sync body, in bytes.
    pub max_decompressed_bytes: usize,
    /// Requests taking longer are answered 408 `request.timeout`.
    pub request_timeout: Duration,
    /// Response budget when the device names none.
    pub default_response_bytes: u32,
    /// Largest response budget granted.
    pub max_response_bytes: u32,
    /// Lifetime of device tokens in seconds; `None`: until revoked.
    pub device_token_ttl_secs: Option<i64>,
    /// How long after a handoff the previous owner's late edits are still accepted.
    pub handoff_grace_secs: i64,
    /// Most pending review items (late edits past the grace period, one per card push) a
    /// device may have; beyond it a push is refused `handoff.review_full` and not stored.
    pub review_max_items_per_device: u64,
    /// Most bytes of one device's pending review items (same refusal beyond it).
    pub review_max_bytes_per_device: u64,
    /// How many loaded card documents the server keeps in memory (see [`cache`]); 0: none.
    /// A realistic card with 10–50 changes of history takes about 25 KiB loaded, so the
    /// default 1024 costs about 25 MiB.
    pub doc_cache_cards: usize,
    /// How many requests may run their blocking work (storage, Automerge) at once; the
    /// others wait their turn, in order, without a thread. Default: twice the available
    /// cores, at least 4. Keeps 500 simultaneous syncs from becoming 500 threads with 500
    /// SQLite connections competing for two cores.
    pub max_concurrent_work: usize,
    /// Most TCP connections open at once; further clients wait in the listen backlog.
    pub max_connections: usize,
    /// A connection that has not sent a complete request head this long after opening,
    /// or after its previous response (keep-alive), is closed.
    pub header_read_timeout: Duration,
    /// Most request body bytes held in memory at once, over all requests; a request
    /// waits for its share (its `Content-Length`, or [`Config::max_body_bytes`] when it
    /// names none) before its body is read. Never below `max_body_bytes`.
    pub max_inflight_body_bytes: usize,
    /// Most card pushes in one sync request; more is refused (`sync.too_many_pushes`)
    /// before any of them is looked at.
    pub max_pushes_per_request: usize,
    /// How long a graceful shutdown waits for open requests to finish.
    pub shutdown_grace: Duration,
    /// Whether the dashboard's session cookie is marked `Secure` (served over https, or
    /// behind a proxy that terminates TLS).
    pub web_secure_cookies: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_body_bytes: 32 * 1024 * 1024,
            max_decompressed_bytes: 128 * 1024 * 1024,
            request_timeout: Duration::from_secs(60),
            default_response_bytes: 4 * 1024 * 1024,
            max_response_bytes: 32 * 1024 * 1024,
            device_token_ttl_secs: None,
            handoff_grace_secs: 7 * 24 * 3600,
            review_max_items_per_device: 2_000,
            review_max_bytes_per_device: 64 * 1024 * 1024,
            doc_cache_cards: 1024,
            max_concurrent_work: std::thread::available_parallelism()
                .map_or(4, |n| n.get() * 2)
                .max(4),
            max_connections: 512,
            header_read_timeout: Duration::from_secs(10),
            max_inflight_body_bytes: 256 * 1024 * 1024,
            max_pushes_per_request: 5_000,
            shutdown_grace: Duration::from_secs(30),
            web_secure_cookies: false,
        }
    }
}

impl Config {
    /// The paging limits of the sync engine.
    pub fn sync_limits(&self) -> sync::SyncLimits {
        sync::SyncLimits {
            default_response_bytes: self.default_response_bytes,
            max_response_bytes: self.max_response_bytes,
            handoff_grace_secs: self.handoff_grace_secs,
            review_max_items: self.review_max_items_per_device,
            review_max_bytes: self.review_max_bytes_per_device,
        }
    }

    /// The connection-level limits of the serving loop.
    pub fn serve_limits(&self) -> serve::ServeLimits {
        serve::ServeLimits {
            max_connections: self.max_connections,
            header_read_timeout: self.header_read_timeout,
            shutdown_grace: self.shutdown_grace,
        }
    }
}

/// What every request handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The storage backend.
    pub storage: Arc<dyn Storage>,
    /// The server's identity and cursor key, read once at start.
    pub identity: ServerIdentity,
    /// Limits and policies.
    pub config: Arc<Config>,
    /// Counters for `/metrics`.
    pub metrics: Arc<metrics::Metrics>,
    /// Loaded card documents, validated against storage on every use.
    pub docs: Arc<cache::DocCache>,
    /// Permits to run blocking work ([`Config::max_concurrent_work`]).
    pub work_slots: Arc<tokio::sync::Semaphore>,
    /// Request body bytes that may be held in memory now
    /// ([`Config::max_inflight_body_bytes`]), one permit per byte.
    pub body_budget: Arc<tokio::sync::Semaphore>,
    /// Devices with a sync or fallback in flight: one at a time per device.
    pub busy_devices: Arc<limits::BusyDevices>,
    /// The clock every time-dependent rule reads ([`clock`]).
    pub clock: Arc<clock::Clock>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("server_id", &self.identity.server_id)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Now, in unix seconds, by the server's [`clock`].
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// A state over any backend.
    pub fn new(storage: Arc<dyn Storage>, config: Config) -> Result<AppState> {
        let identity = storage.identity()?;
        let docs = Arc::new(cache::DocCache::new(config.doc_cache_cards));
        // Other instances' writes evict this one's stale documents as they happen.
        let evict = Arc::downgrade(&docs);
        storage.on_change(Box::new(move |event| match event {
            storage::StorageEvent::CardChanged {
                card_id,
                last_position,
            } => {
                if let Some(docs) = evict.upgrade() {
                    docs.forget_before(&card_id, last_position);
                }
            }
        }));
        Ok(AppState {
            storage,
            identity,
            docs,
            work_slots: Arc::new(tokio::sync::Semaphore::new(
                config.max_concurrent_work.max(1),
            )),
            body_budget: Arc::new(tokio::sync::Semaphore::new(
                config
                    .max_inflight_body_bytes
                    .max(config.max_body_bytes)
                    .min(tokio::sync::Semaphore::MAX_PERMITS),
            )),
            busy_devices: Arc::new(limits::BusyDevices::default()),
            clock: Arc::new(clock::Clock::default()),
            config: Arc::new(config),
            metrics: Arc::new(metrics::Metrics::default()),
        })
    }
}

/// Where a server keeps its data: the embedded SQLite file (the default) or a PostgreSQL
/// database shared by several instances.
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    /// A SQLite file (created if missing).
    Sqlite(PathBuf),
    /// A `postgres://` URL (or a libpq key=value string).
    Postgres(String),
}

impl std::fmt::Debug for Database {
    // Never the URL: it may hold a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Database::Sqlite(p) => f.debug_tuple("Sqlite").field(p).finish(),
            Database::Postgres(_) => f.write_str("Postgres(..)"),
        }
    }
}

impl Database {
    /// `--db`: a `postgres://` or `postgresql://` URL is PostgreSQL, anything else a path.
    pub fn parse(arg: &str) -> Database {
        if arg.starts_with("postgres://") || arg.starts_with("postgresql://") {
            Database::Postgres(arg.to_owned())
        } else {
            Database::Sqlite(PathBuf::from(arg))
        }
    }

    /// What to print about it: the path, or PostgreSQL's host and database without
    /// the credentials.
    pub fn describe(&self) -> String {
        match self {
            Database::Sqlite(p) => p.display().to_string(),
            Database::Postgres(url) => {
                let tail = url.rsplit('@').next().unwrap_or(url);
                let tail = tail.split('?').next().unwrap_or(tail);
                format!(
                    "postgres://{}",
                    tail.trim_start_matches("postgres://")
                        .trim_start_matches("postgresql://")
                )
            }
        }
    }

    /// Opens (creating and migrating if needed) the database.
    pub fn open(&self) -> Result<Arc<dyn Storage>> {
        match self {
            Database::Sqlite(path) => Ok(Arc::new(storage::sqlite::SqliteStorage::open(path)?)),
            #[cfg(feature = "postgres")]
            Database::Postgres(url) => Ok(Arc::new(storage::postgres::PgStorage::connect(url)?)),
            #[cfg(not(feature = "postgres"))]
            Database::Postgres(_) => Err(Error::Storage(
                "this server was built without PostgreSQL support (feature `postgres`)".into(),
            )),
        }
    }
}

/// A state over the SQLite file at `db` (created if missing).
pub fn state_for_sqlite(db: &Path, config: Config) -> Result<AppState> {
    state_for(&Database::Sqlite(db.to_owned()), config)
}

/// A state over `db`, its manager read model brought up to date (cards stored before it,
/// or before a count existed, are derived again).
pub fn state_for(db: &Database, config: Config) -> Result<AppState> {
    let storage = db.open()?;
    let read_only = storage.is_read_only();
    let state = AppState::new(storage, config)?;
    if !read_only {
        let filled = manager::read_model::backfill(state.storage.as_ref())?;
        if filled > 0 {
            tracing::info!(
                cards = filled,
                "manager index filled for cards stored before it"
            );
        }
        let reclassified = manager::read_model::reclassify(state.storage.as_ref())?;
        if reclassified > 0 {
            tracing::info!(
                cards = reclassified,
                "activity rows classified again (contracts, orders)"
            );
        }
    }
    Ok(state)
}

/// The application: every route with its middleware.
pub fn app(state: AppState) -> Router {
    http::router(state)
}

/// Serves on `listener` until `shutdown` resolves, then stops accepting and lets in-flight
/// requests finish within [`Config::shutdown_grace`] (their storage writes run to
/// completion on blocking threads). Connections are capped and timed out (see [`serve`]).
pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    tracing::info!(%addr, server_id = %state.identity.server_id, "serving");
    let limits = state.config.serve_limits();
    let metrics = state.metrics.clone();
    serve::serve(listener, app(state), limits, metrics, shutdown).await?;
    tracing::info!("stopped");
    Ok(())
}

/// A server running on its own thread (see [`spawn`]); stops when dropped.
#[derive(Debug)]
pub struct RunningServer {
    /// The bound address (a real port even when asked for port 0).
    pub addr: SocketAddr,
    /// The state it serves (to inspect storage in tests).
    pub state: AppState,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl RunningServer {
    /// `http://addr`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops gracefully and waits for the server thread.
    pub fn shutdown(mut self) -> std::io::Result<()> {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.thread.take() {
            Some(t) => t
                .join()
                .map_err(|_| std::io::Error::other("server thread panicked"))?,
            None => Ok(()),
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        let _ = self.stop_and_join();
    }
}

/// Starts a server on `addr` (use `127.0.0.1:0` in tests) on a new thread with its own
/// multi-threaded tokio runtime, and returns once it is listening.
pub fn spawn(state: AppState, addr: SocketAddr) -> std::io::Result<RunningServer> {
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    let bound = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = state.clone();
    let thread = std::thread::Builder::new()
        .name("fieldbook-server".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            runtime.block_on(async move {
                let listener = TcpListener::from_std(listener)?;
                run(listener, served, async {
                    let _ = stopped.await;
                })
                .await
            })
        })?;
    Ok(RunningServer {
        addr: bound,
        state,
        stop: Some(stop),
        thread: Some(thread),
    })
}

/// The device id under which seeded changes are logged.
pub const SEED_DEVICE: &str = "seed";

/// Seeds already-built card documents (the demo company: content comes from core).
///
/// Each document must have root keys `"id"` (the card id) and `"territory"` (an existing
/// territory). Its changes are logged as if from device [`SEED_DEVICE`], bypassing the
/// actor/author checks that apply to devices: seeding is an operator action on the
/// database, like the admin subcommands. Cards that already exist gain only the changes
/// they lack. Returns the number of log entries appended.
pub fn seed_cards(storage: &dyn Storage, docs: &[Automerge]) -> Result<usize> {
    let mut appended = 0;
    for doc in docs {
        let id = sync::root_string(doc, "id")
            .ok_or_else(|| Error::Invalid("a seeded card has no \"id\"".into()))?;
        sync::validate_card_id(&id)?;
        // A stored snapshot is a card every device can read, or nothing.
        fieldbook_core::card::validate_card_doc(doc, &id).map_err(Error::from_card_check)?;
        let territory = sync::root_string(doc, "territory")
            .ok_or_else(|| Error::Invalid("a seeded card has no \"territory\"".into()))?;
        if storage.territory(&territory)?.is_none() {
            return Err(Error::NotFound("territory"));
        }
        let stored = storage.card(&id)?;
        let mut merged = sync::load_stored(stored.as_ref())?;
        merged
            .load_incremental(&doc.save())
            .map_err(|e| Error::BadChange(e.to_string()))?;
        let changes = sync::new_changes(&merged, &[]);
        let known: Vec<automerge::ChangeHash> = stored
            .as_ref()
            .map(|c| c.heads.iter().map(|h| automerge::ChangeHash(*h)).collect())
            .unwrap_or_default();
        let new: Vec<[u8; 32]> = merged
            .get_changes_meta(&known)
            .into_iter()
            .map(|m| m.hash.0)
            .collect();
        let now = auth::now();
        let model = manager::read_model::derive(
            storage,
            &id,
            &merged,
            &new,
            now,
            manager::read_model::Times::TrustAll,
        )?;
        let outcome = storage.commit_card(&CardCommit {
            card_id: id,
            territory,
            expected_last_position: stored.map(|c| c.last_position),
            doc: merged.save(),
            heads: merged.get_heads().into_iter().map(|h| h.0).collect(),
            projection: model.projection,
            index: model.index,
            change_rows: model.change_rows,
            changes,
            late: false,
            device_id: SEED_DEVICE.into(),
            received_at: now,
        })?;
        appended += outcome.appended;
    }
    Ok(appended)
}
