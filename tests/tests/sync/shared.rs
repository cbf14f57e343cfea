//! The store stays usable while a sync waits on the network: the sans-IO session holds
//! the writer only to plan a request and to apply its answer, and the read connection
//! serves screens meanwhile. Cancellation stops a sync between requests and loses
//! nothing.

use std::sync::{Arc, Condvar, Mutex};

use fieldbook_core::store::{OpenOptions, StoreReader};
use fieldbook_core::sync::{Cancel, HttpResponse, Transport, sync_shared};
use fieldbook_core::{CardQuery, Store};
use fieldbook_server::storage::Role;

use super::support::{Device, Server, company};

/// A transport that holds every request until the test opens the gate, telling the
/// test when a request is waiting.
struct Gate {
    inner: Arc<dyn Transport>,
    state: Mutex<(bool, u32)>, // (open, requests waiting)
    changed: Condvar,
}

impl Gate {
    fn new(inner: Arc<dyn Transport>) -> Gate {
        Gate {
            inner,
            state: Mutex::new((false, 0)),
            changed: Condvar::new(),
        }
    }

    fn wait_for_request(&self) {
        let mut s = self.state.lock().expect("gate");
        while s.1 == 0 {
            s = self.changed.wait(s).expect("gate");
        }
    }

    fn open(&self) {
        self.state.lock().expect("gate").0 = true;
        self.changed.notify_all();
    }
}

impl Transport for Gate {
    fn post(
        &self,
        path: &str,
        bearer: Option<&str>,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<HttpResponse, String> {
        {
            let mut s = self.state.lock().map_err(|e| e.to_string())?;
            s.1 += 1;
            self.changed.notify_all();
            while !s.0 {
                s = self.changed.wait(s).map_err(|e| e.to_string())?;
            }
            s.1 -= 1;
        }
        self.inner.post(path, bearer, content_type, body)
    }
}

#[test]
fn a_card_opens_and_a_search_answers_while_a_sync_is_blocked_in_the_transport() {
    let server = Server::start();
    company(&server);
    seed(&server, 30);
    let (path, transport, _dir) = Device::enrol(&server, "zhangwei", Role::Rep).into_parts();
    let writer = Arc::new(Mutex::new(Store::open(&path).expect("writer")));
    let mut reader = StoreReader::open(&path, &OpenOptions::new()).expect("reader");
    let gate = Arc::new(Gate::new(transport));
    let cancel = Arc::new(Cancel::new());

    let syncing = {
        let (writer, gate, cancel) = (writer.clone(), gate.clone(), cancel.clone());
        std::thread::spawn(move || sync_shared(&*writer, &*gate, &mut |_| Ok(()), &cancel))
    };
    gate.wait_for_request();
    // The sync is out on the network. A rep creates a card and finds it; the reader
    // answers lists and card screens.
    let id = writer
        .lock()
        .expect("writer")
        .create(|c| {
            c.basic.name = Some("宁波海曙五金".into());
            c.territory = Some("east".into());
            Ok(())
        })
        .expect("an edit while the sync waits");
    assert_eq!(reader.search("海曙", 5).expect("search")[0].id, id);
    assert_eq!(
        reader.card(&id).expect("card").card.basic.name.as_deref(),
        Some("宁波海曙五金")
    );
    assert_eq!(reader.list(&CardQuery::default()).expect("list").len(), 1);
    gate.open();
    let report = syncing.join().expect("thread").expect("sync");
    assert_eq!(report.cards_new, 30);
    assert_eq!(
        reader.count().expect("count"),
        31,
        "the reader sees what the sync applied"
    );
    // The card created mid-sync was planned after the request left: the next sync
    // pushes it.
    let next = sync_shared(&*writer, &*gate, &mut |_| Ok(()), &Cancel::new()).expect("next");
    assert_eq!(next.pending, 0);
}

#[test]
fn a_cancelled_sync_stops_before_its_next_request_and_loses_nothing() {
    let server = Server::start();
    company(&server);
    seed(&server, 5);
    let mut device = Device::enrol(&server, "zhangwei", Role::Rep);
    let id = device.new_card("温州鹿城眼镜", "east");
    let (path, transport, _dir) = device.into_parts();
    let writer = Mutex::new(Store::open(&path).expect("writer"));
    let cancel = Cancel::new();
    cancel.cancel();
    let err = sync_shared(&writer, &*transport, &mut |_| Ok(()), &cancel).expect_err("cancelled");
    assert_eq!(err.code(), "sync.cancelled");
    assert_eq!(
        writer.lock().expect("w").pending_cards().expect("pending"),
        1
    );
    // A progress callback that fails stops the sync after the request it reports.
    let err = sync_shared(
        &writer,
        &*transport,
        &mut |_| Err(fieldbook_core::Error::Cancelled),
        &Cancel::new(),
    )
    .expect_err("stopped by the callback");
    assert_eq!(err.code(), "sync.cancelled");
    let done = sync_shared(&writer, &*transport, &mut |_| Ok(()), &Cancel::new()).expect("later");
    assert_eq!(done.pending, 0);
    assert!(writer.lock().expect("w").card(&id).is_ok());
    assert_eq!(writer.lock().expect("w").count().expect("n"), 6);
}

/// `n` cards of east on the server, made by another of 张伟's devices.
fn seed(server: &Server, n: usize) {
    let mut other = Device::enrol(server, "zhangwei", Role::Rep);
    for i in 0..n {
        other.new_card(&format!("杭州客户{i}"), "east");
    }
    assert_eq!(other.sync().pending, 0);
}

/// A long first sync is applied in many short transactions, and the store is unlocked
/// between them: a rep's edit made in the middle of the pull goes in at once, is on
/// disk (a crash image taken then holds it, with the cards committed so far and
/// nothing half-written), and is pushed by the next sync, which continues the pull
/// where it stopped.
#[test]
fn an_edit_made_in_the_middle_of_a_long_pull_is_durable_and_syncs_next_time() {
    let server = Server::start();
    company(&server);
    let total = 600;
    seed_field_cards(&server, total);
    let mut device = Device::enrol(&server, "zhangwei", Role::Rep);
    let mine = device.new_card("宁波江北文具批发", "east");
    let (path, transport, dir) = device.into_parts();
    let writer = Mutex::new(Store::open(&path).expect("writer"));
    let crash = tempfile::tempdir().expect("crash dir");
    let mut parts_seen = 0;
    let mut pulled_then = 0;
    let err = sync_shared(
        &writer,
        &*transport,
        &mut |progress| {
            if progress.cards_pulled == 0 {
                return Ok(()); // the acknowledgement of the pushed card
            }
            parts_seen += 1;
            if parts_seen == 2 {
                // Between two parts: the store is free for the rep.
                let mut store = writer.lock().expect("writer");
                store.update(&mine, |c| c.set_path("basic.phone", "0574-87654321"))?;
                pulled_then = store.count()? - 1;
                drop(store);
                for suffix in ["", "-wal"] {
                    let from = format!("{}{suffix}", path.display());
                    let to = crash.path().join(format!("device.db{suffix}"));
                    std::fs::copy(&from, &to).expect("copy the store as a crash would leave it");
                }
                // The app is killed here.
                return Err(fieldbook_core::Error::Cancelled);
            }
            Ok(())
        },
        &Cancel::new(),
    )
    .expect_err("stopped in the middle of the pull");
    assert_eq!(err.code(), "sync.cancelled");
    assert!(
        pulled_then > 0 && (pulled_then as usize) < total,
        "stopped mid-pull: {pulled_then} of {total}"
    );

    // The crash image: the edit and every committed card, all readable and indexed.
    let mut image = Store::open(crash.path().join("device.db")).expect("the crash image opens");
    assert_eq!(
        image.card(&mine).expect("card").card.basic.phone.as_deref(),
        Some("0574-87654321")
    );
    assert_eq!(image.count().expect("count"), pulled_then + 1);
    assert_eq!(
        image
            .list(&CardQuery {
                limit: 1000,
                ..CardQuery::default()
            })
            .expect("list")
            .len() as u64,
        pulled_then + 1,
        "every committed card is listed"
    );
    drop(image);

    // The next sync continues: every card arrives once, and the edit reaches the server.
    let report = sync_shared(&writer, &*transport, &mut |_| Ok(()), &Cancel::new()).expect("sync");
    assert_eq!(report.pending, 0);
    assert_eq!(report.cards_new as u64 + pulled_then, total as u64);
    assert!(report.write_transactions >= 2, "{report:?}");
    assert_eq!(
        writer.lock().expect("w").count().expect("n"),
        total as u64 + 1
    );
    drop(writer);
    let mut other = Device::enrol(&server, "zhangwei", Role::Rep);
    other.sync();
    assert_eq!(
        other
            .store
            .card(&mine)
            .expect("on the other device")
            .card
            .basic
            .phone
            .as_deref(),
        Some("0574-87654321")
    );
    drop(dir);
}

/// `n` small cards of east (20 fields, 5 visits each) stored on the server directly.
fn seed_field_cards(server: &Server, n: usize) {
    use fieldbook_core::demo::{DemoAuthor, field_document};
    let today = chrono::Utc::now().date_naive();
    let author = DemoAuthor::new("zhangwei".parse().expect("rep"));
    let docs: Vec<automerge::Automerge> = (0..n as u64)
        .map(|i| {
            let (_, bytes) = field_document(3, i, "east", &author, today).expect("doc");
            automerge::Automerge::load(&bytes).expect("load")
        })
        .collect();
    fieldbook_server::seed_cards(&*server.storage(), &docs).expect("seed");
}
