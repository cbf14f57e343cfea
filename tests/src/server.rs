//! The one test server of every crate's tests: `fieldbook-server` on `127.0.0.1:0` with
//! its own SQLite file in a temp dir, one per test (a shared server made
//! application-services' end-to-end tests flaky), stopped when dropped.
//!
//! With `FIELDBOOK_TEST_BACKEND=postgres` (and `FIELDBOOK_TEST_PG` naming a PostgreSQL
//! server) each test server gets a fresh PostgreSQL database instead, dropped with it: CI
//! runs the server's scenarios a second time that way, against two instances as often as
//! a test asks for a second one.
//!
//! The server's own integration tests use it as a dev-dependency: Cargo builds
//! `fieldbook-server`'s library once and links that one copy both into this crate and into
//! the test binary, so the types (`Config`, `Storage`) are the same on both sides.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use fieldbook_server::storage::{PersonKind, Role, Storage};
use fieldbook_server::{Config, Database, RunningServer, admin, spawn, state_for};

/// A company to create on a fresh server: people, then territories.
#[derive(Clone, Copy, Debug)]
pub struct Company {
    /// (id, name, kind).
    pub people: &'static [(&'static str, &'static str, PersonKind)],
    /// (id, name, manager, owning rep).
    pub territories: &'static [(
        &'static str,
        &'static str,
        Option<&'static str>,
        Option<&'static str>,
    )],
}

/// 华东 (`east`, held by 张伟) and 华北 (`north`, held by 李娜), both managed by 王经理.
pub const EAST_AND_NORTH: Company = Company {
    people: &[
        ("zhangwei", "张伟", PersonKind::Rep),
        ("lina", "李娜", PersonKind::Rep),
        ("wangjl", "王经理", PersonKind::Manager),
    ],
    territories: &[
        ("east", "华东区", Some("wangjl"), Some("zhangwei")),
        ("north", "华北区", Some("wangjl"), Some("lina")),
    ],
};

/// A running server, the database it runs on and how it was configured.
pub struct TestServer {
    /// The server (its state is reachable for direct storage checks).
    pub running: RunningServer,
    db: Database,
    config: Config,
    _dir: Option<tempfile::TempDir>,
    /// The PostgreSQL database of this server, dropped with it (after the server: fields
    /// drop in order).
    #[cfg(feature = "postgres")]
    _scratch: Option<fieldbook_server::storage::postgres::ScratchDatabase>,
}

/// Whether test servers run on PostgreSQL (`FIELDBOOK_TEST_BACKEND=postgres`).
pub fn on_postgres() -> bool {
    std::env::var("FIELDBOOK_TEST_BACKEND").is_ok_and(|b| b == "postgres")
}

impl TestServer {
    /// A server with the default configuration on a fresh database.
    pub fn start() -> TestServer {
        TestServer::start_with(Config::default())
    }

    /// A server with `config` on a fresh database.
    pub fn start_with(config: Config) -> TestServer {
        #[cfg(feature = "postgres")]
        if on_postgres() {
            let admin = std::env::var("FIELDBOOK_TEST_PG")
                .expect("FIELDBOOK_TEST_BACKEND=postgres needs FIELDBOOK_TEST_PG");
            let scratch = fieldbook_server::storage::postgres::ScratchDatabase::create(&admin)
                .expect("scratch database");
            let mut server =
                TestServer::open(&Database::Postgres(scratch.url().to_owned()), config);
            server._scratch = Some(scratch);
            return server;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let mut server = TestServer::open(&Database::Sqlite(dir.path().join("server.db")), config);
        server._dir = Some(dir);
        server
    }

    /// A server on a database file the caller keeps (to restart on it).
    pub fn start_at(db: &Path) -> TestServer {
        TestServer::open(&Database::Sqlite(db.to_owned()), Config::default())
    }

    /// A server on a storage the caller built (e.g. a read-only or size-capped SQLite file
    /// `server.db` in `dir`), keeping `dir` alive with it.
    pub fn start_on(storage: Arc<dyn Storage>, dir: tempfile::TempDir) -> TestServer {
        let config = Config::default();
        let state = fieldbook_server::AppState::new(storage, config.clone()).expect("state");
        let running = spawn(state, "127.0.0.1:0".parse().expect("addr")).expect("spawn server");
        TestServer {
            running,
            db: Database::Sqlite(dir.path().join("server.db")),
            config,
            _dir: Some(dir),
            #[cfg(feature = "postgres")]
            _scratch: None,
        }
    }

    /// The server's SQLite file (for tests of the SQLite backend only).
    pub fn db_path(&self) -> PathBuf {
        match &self.db {
            Database::Sqlite(path) => path.clone(),
            Database::Postgres(_) => panic!("this test reads the SQLite file: SQLite only"),
        }
    }

    /// The server's database.
    pub fn database(&self) -> &Database {
        &self.db
    }

    fn open(db: &Database, config: Config) -> TestServer {
        let state = state_for(db, config.clone()).expect("server state");
        let running = spawn(state, "127.0.0.1:0".parse().expect("addr")).expect("spawn server");
        TestServer {
            running,
            db: db.clone(),
            config,
            _dir: None,
            #[cfg(feature = "postgres")]
            _scratch: None,
        }
    }

    /// Stops the server gracefully and starts a new one on the same database.
    pub fn restart(self) -> TestServer {
        let TestServer {
            running,
            db,
            config,
            _dir,
            #[cfg(feature = "postgres")]
            _scratch,
        } = self;
        running.shutdown().expect("graceful shutdown");
        let mut server = TestServer::open(&db, config);
        server._dir = _dir;
        #[cfg(feature = "postgres")]
        {
            server._scratch = _scratch;
        }
        server
    }

    /// A second server instance on the same database (its own connections and caches), as
    /// several instances behind a load balancer would run.
    pub fn second_instance(&self) -> RunningServer {
        let state = state_for(&self.db, self.config.clone()).expect("second state");
        spawn(state, "127.0.0.1:0".parse().expect("addr")).expect("spawn second")
    }

    /// Creates `company`'s people and territories.
    pub fn add_company(&self, company: &Company) {
        let s = self.storage();
        let s = s.as_ref();
        for (id, name, kind) in company.people {
            admin::add_person(s, id, name, *kind).expect("person");
        }
        for (id, name, manager, owner) in company.territories {
            admin::add_territory(s, id, name, *manager).expect("territory");
            if let Some(rep) = owner {
                admin::assign_territory(s, id, rep).expect("assign");
            }
        }
    }

    /// The server's storage, for direct checks.
    pub fn storage(&self) -> Arc<dyn Storage> {
        self.running.state.storage.clone()
    }

    /// The base URL (`http://127.0.0.1:port`).
    pub fn url(&self) -> String {
        self.running.url()
    }

    /// A one-time enrolment token for a device of `person`.
    pub fn enrolment(&self, person: &str, role: Role, device_name: &str) -> String {
        admin::enrol_device(self.storage().as_ref(), person, role, device_name)
            .expect("enrolment")
            .token
    }
}

/// The running server's address and state, as on [`RunningServer`].
impl std::ops::Deref for TestServer {
    type Target = RunningServer;

    fn deref(&self) -> &RunningServer {
        &self.running
    }
}
