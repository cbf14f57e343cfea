//! Shared set-up for the sync scenarios: a company on a fresh server, and devices.

use std::sync::Arc;

use fieldbook_core::card::Visit;
use fieldbook_core::sync::http::HttpTransport;
use fieldbook_core::sync::{SyncReport, Transport};
use fieldbook_core::{CardId, Store};
use fieldbook_server::storage::Role;
use fieldbook_tests::server::EAST_AND_NORTH;

/// The shared test server, with the company of these scenarios ([`EAST_AND_NORTH`]).
pub use fieldbook_tests::server::TestServer as Server;

/// 华东 (east, held by 张伟) and 华北 (north, held by 李娜), both managed by 王经理.
pub fn company(server: &Server) {
    server.add_company(&EAST_AND_NORTH);
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
        let token = server.enrolment(person, role, "测试设备");
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

    /// Close the store (a store has one writer) and hand over its file, transport and
    /// directory, to reopen it another way.
    pub fn into_parts(self) -> (std::path::PathBuf, Arc<dyn Transport>, tempfile::TempDir) {
        let path = self.db_path();
        drop(self.store);
        (path, self.transport, self._dir)
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
