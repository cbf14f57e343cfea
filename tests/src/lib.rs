//! Fieldbook's shared test harness for cross-crate scenarios.
//!
//! Scenarios read as steps of a rep's day: make devices ([`TempDevice`]), edit cards,
//! move changes between devices ([`send`], [`exchange_until_quiet`]), check what each
//! device shows. Every device is a real SQLite store in its own temp dir, removed
//! when the device is dropped: no mocks, no shared state between tests.
//!
//! ## The sync server
//! [`server::TestServer`] is the one server harness of every crate's tests (this crate's
//! scenarios, the server's integration tests, the CLI's end-to-end test): a real
//! `fieldbook-server` on `127.0.0.1:0` with a fresh temp database per test. The bundle
//! helpers stay: handing over data without a network is a feature.

pub mod device;
pub mod server;
pub mod webdriver;

use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};

use fieldbook_core::{CardId, CardView, ImportReport, Store};

/// A device of one rep: a store in a temp dir, with the rep's identity set.
pub struct TempDevice {
    // Dropped after the store (fields drop in declaration order).
    store: Store,
    name: String,
    rep: String,
    path: PathBuf,
    _dir: tempfile::TempDir,
}

impl TempDevice {
    /// A fresh device named `name` (for messages) acting for rep `rep`.
    ///
    /// Panics if the temp dir or the store cannot be created: this is a test helper.
    pub fn new(name: &str, rep: &str) -> TempDevice {
        let dir = tempfile::Builder::new()
            .prefix(&format!("fieldbook-{name}-"))
            .tempdir()
            .expect("create a temp dir for the device");
        let path = dir.path().join("device.db");
        let mut store = Store::open(&path).expect("open a fresh store");
        store
            .init_identity(rep.parse().expect("a valid rep id"))
            .expect("set the device's rep");
        TempDevice {
            store,
            name: name.to_string(),
            rep: rep.to_string(),
            path,
            _dir: dir,
        }
    }

    /// The device's name, as given to [`TempDevice::new`].
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The rep the device acts for.
    pub fn rep(&self) -> &str {
        &self.rep
    }

    /// The store's file.
    pub fn db_path(&self) -> &Path {
        &self.path
    }

    /// Close and reopen the store, as after the app is restarted.
    pub fn restart(&mut self) {
        // Open a second handle first, then swap: the old connection closes on drop.
        let reopened = Store::open(&self.path).expect("reopen the store");
        self.store = reopened;
    }

    /// Every card the device holds, as shown to a person, in id order.
    pub fn all_cards(&mut self) -> Vec<CardView> {
        let mut ids = self.store.card_ids().expect("card ids");
        ids.sort();
        ids.iter()
            .map(|id| self.store.card(id).expect("card"))
            .collect()
    }

    /// A bundle of the given cards (all when `None`).
    pub fn export(&mut self, ids: Option<&[CardId]>) -> Vec<u8> {
        self.store.export_bundle(ids).expect("export a bundle")
    }
}

impl Deref for TempDevice {
    type Target = Store;
    fn deref(&self) -> &Store {
        &self.store
    }
}

impl DerefMut for TempDevice {
    fn deref_mut(&mut self) -> &mut Store {
        &mut self.store
    }
}

/// Carry every card of `from` to `to` as a bundle file, as a rep would by hand.
pub fn send(from: &mut TempDevice, to: &mut TempDevice) -> ImportReport {
    let bundle = from.export(None);
    to.import_bundle(&bundle).expect("import the bundle")
}

/// Exchange bundles between every pair of devices until no import changes anything.
/// Returns the number of passes it took (at least 1).
pub fn exchange_until_quiet(devices: &mut [TempDevice]) -> usize {
    for pass in 1..=10 {
        let mut changed = false;
        let bundles: Vec<Vec<u8>> = devices.iter_mut().map(|d| d.export(None)).collect();
        for (i, bundle) in bundles.iter().enumerate() {
            for (j, device) in devices.iter_mut().enumerate() {
                if i != j {
                    let report = device.import_bundle(bundle).expect("import the bundle");
                    changed |= report.cards_new > 0 || report.cards_updated > 0;
                }
            }
        }
        if !changed {
            return pass;
        }
    }
    panic!("devices did not converge after 10 passes of exchanging bundles");
}
