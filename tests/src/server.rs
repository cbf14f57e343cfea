//! The one test server of every crate's tests: `fieldbook-server` on `127.0.0.1:0` with
//! its own SQLite file in a temp dir, one per test (a shared server made
//! application-services' end-to-end tests flaky), stopped when dropped.
//!
//! The server's own integration tests use it as a dev-dependency: Cargo builds
//! `fieldbook-server`'s library once and links that one copy both into this crate and into
//! the test binary, so the types (`Config`, `Storage`) are the same on both sides.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use fieldbook_server::storage::{PersonKind, Role, Storage};
use fieldbook_server::{Config, RunningServer, admin, spawn, state_for_sqlite};

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
    db: PathBuf,
    config: Config,
    _dir: Option<tempfile::TempDir>,
}

impl TestServer {
    /// A server with the default configuration on a fresh database.
    pub fn start() -> TestServer {
        TestServer::start_with(Config::default())
    }

    /// A server with `config` on a fresh database.
    pub fn start_with(config: Config) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut server = TestServer::open(&dir.path().join("server.db"), config);
        server._dir = Some(dir);
        server
    }

    /// A server on a database file the caller keeps (to restart on it).
    pub fn start_at(db: &Path) -> TestServer {
        TestServer::open(db, Config::default())
    }

    /// A server on a storage the caller built (e.g. a read-only or size-capped SQLite file
    /// `server.db` in `dir`), keeping `dir` alive with it.
    pub fn start_on(storage: Arc<dyn Storage>, dir: tempfile::TempDir) -> TestServer {
        let config = Config::default();
        let state = fieldbook_server::AppState::new(storage, config.clone()).expect("state");
        let running = spawn(state, "127.0.0.1:0".parse().expect("addr")).expect("spawn server");
        TestServer {
            running,
            db: dir.path().join("server.db"),
            config,
            _dir: Some(dir),
        }
    }

    /// The server's database file.
    pub fn db_path(&self) -> PathBuf {
        self.db.clone()
    }

    fn open(db: &Path, config: Config) -> TestServer {
        let state = state_for_sqlite(db, config.clone()).expect("server state");
        let running = spawn(state, "127.0.0.1:0".parse().expect("addr")).expect("spawn server");
        TestServer {
            running,
            db: db.to_owned(),
            config,
            _dir: None,
        }
    }

    /// Stops the server gracefully and starts a new one on the same database.
    pub fn restart(self) -> TestServer {
        let TestServer {
            running,
            db,
            config,
            _dir,
        } = self;
        running.shutdown().expect("graceful shutdown");
        let mut server = TestServer::open(&db, config);
        server._dir = _dir;
        server
    }

    /// A second server instance on the same database (its own connections and caches), as
    /// several instances behind a load balancer would run.
    pub fn second_instance(&self) -> RunningServer {
        let state = state_for_sqlite(&self.db, self.config.clone()).expect("second state");
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
