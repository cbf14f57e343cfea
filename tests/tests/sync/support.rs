//! Shared set-up for the sync scenarios: a company on a fresh server, and devices.

use std::net::SocketAddr;
use std::sync::Arc;

use fieldbook_core::card::Visit;
use fieldbook_core::sync::http::HttpTransport;
use fieldbook_core::sync::{SyncReport, Transport};
use fieldbook_core::{CardId, Store};
use fieldbook_server::storage::{PersonKind, Role, Storage};
use fieldbook_server::{Config, RunningServer, admin};

/// A sync server on 127.0.0.1:0 with its own SQLite file.
pub struct Server {
    pub running: RunningServer,
    _dir: tempfile::TempDir,
}

impl Server {
    pub fn start() -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let state =
            fieldbook_server::state_for_sqlite(&dir.path().join("server.db"), Config::default())
                .expect("state");
        let addr: SocketAddr = "127.0.0.1:0".parse().expect("addr");
        let running = fieldbook_server::spawn(state, addr).expect("spawn server");
        Server { running, _dir: dir }
    }

    /// A server on a storage the caller built (e.g. a read-only or size-capped SQLite file),
    /// keeping `dir` (the file's directory) alive with it.
    pub fn start_on(storage: Arc<dyn Storage>, dir: tempfile::TempDir) -> Server {
        let state = fieldbook_server::AppState::new(storage, Config::default()).expect("state");
        let addr: SocketAddr = "127.0.0.1:0".parse().expect("addr");
        let running = fieldbook_server::spawn(state, addr).expect("spawn server");
        Server { running, _dir: dir }
    }

    /// The server's database file (when started by [`Server::start`]).
    pub fn db_path(&self) -> std::path::PathBuf {
        self._dir.path().join("server.db")
    }

    pub fn storage(&self) -> &dyn Storage {
        &*self.running.state.storage
    }

    pub fn url(&self) -> String {
        self.running.url()
    }

    /// 华东 (east, held by 张伟) and 华北 (north, held by 李娜), both managed by 王经理.
    pub fn company(&self) {
        let s = self.storage();
        admin::add_person(s, "zhangwei", "张伟", PersonKind::Rep).expect("rep");
        admin::add_person(s, "lina", "李娜", PersonKind::Rep).expect("rep");
        admin::add_person(s, "wangjl", "王经理", PersonKind::Manager).expect("manager");
        admin::add_territory(s, "east", "华东区", Some("wangjl")).expect("territory");
        admin::add_territory(s, "north", "华北区", Some("wangjl")).expect("territory");
        admin::assign_territory(s, "east", "zhangwei").expect("assign");
        admin::assign_territory(s, "north", "lina").expect("assign");
    }

    pub fn enrolment(&self, person: &str, role: Role) -> String {
        admin::enrol_device(self.storage(), person, role, "测试设备")
            .expect("enrolment")
            .token
    }
}

/// A phone: a store in a temp dir, enrolled with the server.
pub struct Device {
    pub store: Store,
    pub transport: Arc<dyn Transport>,
    _dir: tempfile::TempDir,
}

impl Device {
    pub fn enrol(server: &Server, person: &str, role: Role) -> Device {
        Self::enrol_via(server, &server.url(), person, role)
    }

    /// Enrol, but talk to the server through `url` (e.g. a faulty proxy).
    pub fn enrol_via(server: &Server, url: &str, person: &str, role: Role) -> Device {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = Store::open(dir.path().join("device.db")).expect("store");
        let transport: Arc<dyn Transport> =
            Arc::new(HttpTransport::new(url, &[]).expect("transport"));
        let token = server.enrolment(person, role);
        fieldbook_core::sync::enrol(&mut store, &*transport, url, &token).expect("enrol");
        Device {
            store,
            transport,
            _dir: dir,
        }
    }

    /// A device from an already enrolled store.
    pub fn from_parts(
        store: Store,
        transport: Arc<dyn Transport>,
        dir: tempfile::TempDir,
    ) -> Device {
        Device {
            store,
            transport,
            _dir: dir,
        }
    }

    /// The device's store file.
    pub fn db_path(&self) -> std::path::PathBuf {
        self._dir.path().join("device.db")
    }

    pub fn sync(&mut self) -> SyncReport {
        self.try_sync().expect("sync")
    }

    pub fn try_sync(&mut self) -> fieldbook_core::Result<SyncReport> {
        fieldbook_core::sync::sync(&mut self.store, &*self.transport, &mut |_| {})
    }

    pub fn new_card(&mut self, name: &str, territory: &str) -> CardId {
        self.store
            .create(|c| {
                c.basic.name = Some(name.into());
                c.territory = Some(territory.into());
                Ok(())
            })
            .expect("create")
    }

    pub fn set(&mut self, id: &CardId, path: &str, value: &str) {
        self.store
            .update(id, |c| c.set_path(path, value))
            .expect("edit");
    }

    pub fn visit(&mut self, id: &CardId, summary: &str) {
        self.store
            .update(id, |c| {
                c.add_visit(Visit {
                    summary: summary.into(),
                    at: Some(chrono::Utc::now()),
                    ..Default::default()
                });
                Ok(())
            })
            .expect("visit");
    }

    /// Everything a person could see of every card: data, conflicts, heads.
    pub fn snapshot(&mut self) -> Vec<String> {
        let mut ids = self.store.card_ids().expect("ids");
        ids.sort();
        ids.iter()
            .map(|id| {
                let mut v = self.store.card(id).expect("card");
                v.heads.sort();
                serde_json::to_string(&v).expect("json")
            })
            .collect()
    }
}
