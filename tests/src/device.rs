//! A phone that syncs: a real device store in a temp dir, enrolled with a
//! [`TestServer`](crate::server::TestServer) and syncing over HTTP, as the app does.

use std::sync::Arc;

use fieldbook_core::card::Visit;
use fieldbook_core::sync::http::HttpTransport;
use fieldbook_core::sync::{SyncReport, Transport};
use fieldbook_core::{CardId, Store};
use fieldbook_server::storage::Role;

use crate::server::TestServer as Server;

/// A phone: a store in a temp dir, enrolled with the server.
pub struct Device {
    /// The device's store.
    pub store: Store,
    /// How it reaches the server.
    pub transport: Arc<dyn Transport>,
    _dir: tempfile::TempDir,
}

impl Device {
    /// A device named 测试设备 of `person`, enrolled with `role`.
    pub fn enrol(server: &Server, person: &str, role: Role) -> Device {
        Self::enrol_via(server, &server.url(), person, role)
    }

    /// A device enrolled under the name `device_name` (history names it so).
    pub fn enrol_named(server: &Server, person: &str, role: Role, device_name: &str) -> Device {
        Self::enrol_as(server, &server.url(), person, role, device_name)
    }

    /// Enrol, but talk to the server through `url` (e.g. a faulty proxy).
    pub fn enrol_via(server: &Server, url: &str, person: &str, role: Role) -> Device {
        Self::enrol_as(server, url, person, role, "测试设备")
    }

    fn enrol_as(server: &Server, url: &str, person: &str, role: Role, device_name: &str) -> Device {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = Store::open(dir.path().join("device.db")).expect("store");
        let transport: Arc<dyn Transport> =
            Arc::new(HttpTransport::new(url, &[]).expect("transport"));
        let token = server.enrolment(person, role, device_name);
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

    /// Syncs, panicking on failure.
    pub fn sync(&mut self) -> SyncReport {
        self.try_sync().expect("sync")
    }

    /// Syncs.
    pub fn try_sync(&mut self) -> fieldbook_core::Result<SyncReport> {
        fieldbook_core::sync::sync(&mut self.store, &*self.transport, &mut |_| {})
    }

    /// A new card named `name` in `territory`.
    pub fn new_card(&mut self, name: &str, territory: &str) -> CardId {
        self.store
            .create(|c| {
                c.basic.name = Some(name.into());
                c.territory = Some(territory.into());
                Ok(())
            })
            .expect("create")
    }

    /// Sets one field (`basic.phone`).
    pub fn set(&mut self, id: &CardId, path: &str, value: &str) {
        self.store
            .update(id, |c| c.set_path(path, value))
            .expect("edit");
    }

    /// Logs a visit now.
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
