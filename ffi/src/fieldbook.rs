//! [`Fieldbook`]: one store file, as an app holds it.
//!
//! Two connections: the writer ([`Store`], behind a mutex that a sync holds only to plan
//! a request and to apply its answer) and the read connection ([`StoreReader`], behind
//! its own mutex), so card screens, lists and search answer while a sync runs. Every
//! method converts core's result through `fieldbook_core::ApiError`; none adds a rule of
//! its own.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use chrono::{DateTime, NaiveDate, Utc};
use fieldbook_core::store::{EncryptionKey, OpenOptions, StoreReader};
use fieldbook_core::sync::{self, Cancel, SharedStore, Transport};
use fieldbook_core::value::{Class, Scalar};
use fieldbook_core::{CardId, CardQuery, Store};

use crate::error::{FieldbookError, Result};
use crate::oneshot;
use crate::records::{
    CardDetail, CardRow, Conflict, Dossier, Enrolment, FieldChange, FieldEdit, FieldSpec,
    HandedAway, HistoryEntry, ListQuery, RefusedCard, SyncProgress, SyncStatus, SyncSummary, time,
};
use crate::transport::{ForeignTransport, HttpClient};

/// Told of a running sync's progress, after every request, on the sync's thread.
#[uniffi::export(with_foreign)]
pub trait SyncListener: Send + Sync {
    /// The totals so far. Throwing stops the sync (what it applied stays).
    fn on_progress(&self, progress: SyncProgress) -> Result<()>;
}

/// A store of customer cards on this device. See the crate docs for threads.
#[derive(uniffi::Object)]
pub struct Fieldbook {
    writer: Mutex<Option<Store>>,
    reader: Mutex<Option<StoreReader>>,
    http_client: Mutex<Option<Arc<dyn HttpClient>>>,
    ca_certificates: Mutex<Vec<Vec<u8>>>,
    /// The running sync's cancel flag, if one runs.
    running: Mutex<Option<Arc<Cancel>>>,
    /// Held by a running sync: a second one waits for the first.
    sync_gate: Mutex<()>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every write is one SQLite transaction: a panic elsewhere leaves nothing half-done.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn card_id(id: &str) -> Result<CardId> {
    Ok(id.parse::<CardId>()?)
}

fn options(key: Option<Vec<u8>>) -> Result<OpenOptions> {
    Ok(match key {
        Some(bytes) => OpenOptions::new().key(EncryptionKey::from_bytes(&bytes)?),
        None => OpenOptions::new(),
    })
}

fn pairs(edits: &[FieldEdit]) -> Vec<(String, String)> {
    edits
        .iter()
        .map(|e| (e.path.trim().to_string(), e.value.clone()))
        .collect()
}

fn date(field: &str, s: &Option<String>) -> Result<Option<NaiveDate>> {
    s.as_deref()
        .map(|d| {
            NaiveDate::parse(d).map_err(|reason| fieldbook_core::Error::InvalidValue {
                field: field.into(),
                reason,
            })
        })
        .transpose()
        .map_err(FieldbookError::from)
}

/// Move the plain store at `path` to an encrypted one with `key` (32 bytes), in place
/// and without loss; the store must not be open. Does disk I/O.
#[uniffi::export]
pub fn encrypt_store(path: String, key: Vec<u8>) -> Result<()> {
    let key = EncryptionKey::from_bytes(&key)?;
    Ok(Store::encrypt_file(PathBuf::from(path), &key)?)
}

/// Every editable field of a card, for editors built from the schema.
#[uniffi::export]
pub fn card_schema() -> Vec<FieldSpec> {
    fieldbook_core::card::schema()
        .into_iter()
        .map(FieldSpec::from)
        .collect()
}

#[uniffi::export]
impl Fieldbook {
    /// Open (or create) the store at `path`; with `key` (32 bytes, e.g. from Android
    /// Keystore or the iOS Keychain) it is encrypted at rest. Refuses a wrong key
    /// (`store.wrong_key`), a file that is not a store, and a store another process
    /// has open (`store.locked`).
    #[uniffi::constructor]
    pub fn open(path: String, key: Option<Vec<u8>>) -> Result<Arc<Fieldbook>> {
        let path = PathBuf::from(path);
        let options = options(key)?;
        let store = Store::open_with(&path, &options)?;
        let reader = StoreReader::open(&path, &options)?;
        Ok(Arc::new(Fieldbook {
            writer: Mutex::new(Some(store)),
            reader: Mutex::new(Some(reader)),
            http_client: Mutex::new(None),
            ca_certificates: Mutex::new(Vec::new()),
            running: Mutex::new(None),
            sync_gate: Mutex::new(()),
        }))
    }

    /// Close the store: a running sync is cancelled, and every later call fails with
    /// `store.closed`. Another handle (or process) may then open the file.
    pub fn close_store(&self) {
        self.cancel_sync();
        let _gate = lock(&self.sync_gate);
        lock(&self.writer).take();
        lock(&self.reader).take();
    }

    /// Sync through the app's own HTTP stack from now on (`None`: the built-in one).
    pub fn set_http_client(&self, client: Option<Arc<dyn HttpClient>>) {
        *lock(&self.http_client) = client;
    }

    /// Trust this PEM certificate (a company's own CA) in the built-in HTTP stack.
    pub fn add_ca_certificate(&self, pem: String) {
        lock(&self.ca_certificates).push(pem.into_bytes());
    }

    /// Enrol this device with the server at `server_url` using a one-time token from
    /// the manager. Network I/O: call it off the UI thread.
    pub fn enrol(&self, server_url: String, token: String) -> Result<Enrolment> {
        let request = self.write(|s| sync::enrol_request(s, &token))?;
        let response = sync::send(&*self.transport(&server_url)?, request)?;
        let resp = self.write(|s| sync::enrol_finish(s, &server_url, response))?;
        Ok(Enrolment {
            rep_id: resp.rep_id,
            role: resp.role,
            device_id: resp.device_id,
        })
    }

    /// Set the rep this device acts for before it is enrolled (enrolment sets it too):
    /// every later edit is authored by them.
    pub fn init_rep(&self, rep_id: String) -> Result<()> {
        let rep = rep_id.parse()?;
        self.write(|s| s.init_identity(rep))
    }

    /// Create a card with these fields (`basic.name`, `territory`, …); returns its id.
    pub fn create_card(&self, fields: Vec<FieldEdit>) -> Result<String> {
        let fields = pairs(&fields);
        let id = self.write(|s| {
            s.create(|card| {
                for (path, value) in &fields {
                    card.set_path(path, value)?;
                }
                Ok(())
            })
        })?;
        Ok(id.to_string())
    }

    /// Set fields of a card, all in one change or none; returns the paths changed.
    pub fn update_card(&self, card_id: String, edits: Vec<FieldEdit>) -> Result<Vec<String>> {
        let id = self::card_id(&card_id)?;
        let edits = pairs(&edits);
        self.write(|s| {
            s.update(&id, |card| {
                for (path, value) in &edits {
                    card.set_path(path, value)?;
                }
                Ok(())
            })
        })
    }

    /// Add a contact, to-do or opportunity (`collection`: `contacts`, `todos`,
    /// `opportunities`) with its fields by key (`name`, `mobile`); returns its id.
    pub fn add_item(
        &self,
        card_id: String,
        collection: String,
        fields: Vec<FieldEdit>,
    ) -> Result<String> {
        self.add(&card_id, &collection, &fields, None)
    }

    /// Log a visit (fields by key: `kind`, `place`, `lat`, `lon`, `summary`,
    /// `outcome`, `next_step`, `next_visit`), at `at` or now (the device clock
    /// corrected by the server's). The visit is the device's rep's; returns its id.
    pub fn log_visit(
        &self,
        card_id: String,
        fields: Vec<FieldEdit>,
        at: Option<SystemTime>,
    ) -> Result<String> {
        self.add(&card_id, "visits", &fields, at.map(DateTime::<Utc>::from))
    }

    /// Remove an item from a card.
    pub fn remove_item(&self, card_id: String, collection: String, item_id: String) -> Result<()> {
        let id = self::card_id(&card_id)?;
        self.write(|s| s.update(&id, |card| card.remove_item(&collection, &item_id)))?;
        Ok(())
    }

    /// Resolve a conflicted field by choosing (or typing) its value.
    pub fn resolve_conflict(&self, card_id: String, path: String, value: String) -> Result<()> {
        let id = self::card_id(&card_id)?;
        self.write(|s| s.resolve(&id, &path, &value))
    }

    /// A card as its screen shows it (from the read connection).
    pub fn card(&self, card_id: String) -> Result<CardDetail> {
        let id = self::card_id(&card_id)?;
        Ok(self.read(|r| r.card(&id))?.into())
    }

    /// A page of cards matching `query`, from the index (the read connection).
    pub fn list(&self, query: ListQuery) -> Result<Vec<CardRow>> {
        let class = query
            .class
            .as_deref()
            .map(|c| {
                Class::parse(c).map_err(|reason| fieldbook_core::Error::InvalidValue {
                    field: "class".into(),
                    reason,
                })
            })
            .transpose()?;
        let q = CardQuery {
            territory: query.territory,
            class,
            tag: query.tag,
            due_by: date("due_by", &query.due_by)?,
            text: query.text,
            conflicted: query.conflicted,
            sort: query.sort.unwrap_or_default().into(),
            reverse: query.reverse,
            limit: if query.limit == 0 { 50 } else { query.limit },
            offset: query.offset,
        };
        let rows = self.read(|r| r.list(&q))?;
        Ok(rows.into_iter().map(CardRow::from).collect())
    }

    /// Full-text search, first `limit` cards by name (Chinese names, phone fragments).
    pub fn search(&self, text: String, limit: u32) -> Result<Vec<CardRow>> {
        let rows = self.read(|r| r.search(&text, limit))?;
        Ok(rows.into_iter().map(CardRow::from).collect())
    }

    /// A card's open conflicts, every value attributed.
    pub fn conflicts(&self, card_id: String) -> Result<Vec<Conflict>> {
        let id = self::card_id(&card_id)?;
        Ok(self
            .read(|r| r.conflicts(&id))?
            .into_iter()
            .map(Conflict::from)
            .collect())
    }

    /// Every change of a card, oldest first: who, on which device, when, which fields.
    pub fn history(&self, card_id: String) -> Result<Vec<HistoryEntry>> {
        let id = self::card_id(&card_id)?;
        Ok(self
            .read(|r| r.history(&id))?
            .into_iter()
            .map(HistoryEntry::from)
            .collect())
    }

    /// The changes of one field, with the value each left.
    pub fn field_history(&self, card_id: String, path: String) -> Result<Vec<FieldChange>> {
        let id = self::card_id(&card_id)?;
        Ok(self
            .read(|r| r.field_history(&id, &path))?
            .into_iter()
            .map(FieldChange::from)
            .collect())
    }

    /// A card's handover dossier: assignment history, visit log in time order, open
    /// to-dos and opportunities, and every field's history (the read connection).
    pub fn dossier(&self, card_id: String) -> Result<Dossier> {
        let id = self::card_id(&card_id)?;
        Ok(self.read(|r| r.dossier(&id))?.into())
    }

    /// Cards on this phone that look like one customer (same tax number, same phone,
    /// similar name), most certain first.
    pub fn duplicates(&self) -> Result<Vec<crate::DuplicatePairInfo>> {
        let mut pairs = self.write(|s| s.duplicates())?;
        pairs.sort_by(|a, b| b.confidence.cmp(&a.confidence));
        Ok(pairs.into_iter().map(Into::into).collect())
    }

    /// Merges the duplicate `other` into `keep`: `keep` is filled in from it, `other`
    /// points to `keep` (its history and visits stay). Every device lists one card after
    /// syncing; opening `other` should show `mergedTarget(other)`.
    pub fn merge_duplicate(&self, keep: String, other: String) -> Result<crate::MergeInfo> {
        let (keep, other) = (self::card_id(&keep)?, self::card_id(&other)?);
        Ok(self.write(|s| s.merge_duplicate(&keep, &other))?.into())
    }

    /// Where a card now lives: itself, or the card it was merged into.
    pub fn merged_target(&self, card_id: String) -> Result<String> {
        let id = self::card_id(&card_id)?;
        Ok(self.write(|s| s.merged_target(&id))?.to_string())
    }

    /// The company's settings as the last sync delivered them (revision 0: DOMAIN.md's
    /// defaults, before the first sync): what the plan, the due dates and every report on
    /// this phone follow. A manager changes them on the server, never on the phone.
    pub fn company_settings(&self) -> Result<crate::CompanySettingsInfo> {
        Ok(self.read(|r| r.company_settings())?.into())
    }

    /// ABC classes of the cards on this phone as of `date` (`2026-12-01`; default today)
    /// by the company's settings (by default the seed's 75/20/5 of average monthly sales
    /// over the three full months before), with the class the rep set beside each (the
    /// read connection; offline).
    pub fn abc(&self, date: Option<String>) -> Result<crate::AbcReport> {
        let day = self::date("date", &date)?.unwrap_or_else(|| chrono::Local::now().date_naive());
        Ok(self.read(|r| r.abc(day))?.into())
    }

    /// The day's visit plan (`date` default today): the cards due a visit in the order
    /// of the shortest route from (`lat`, `lon`), back there at the end if
    /// `return_to_start`; prospects off the plan; dormant customers (the read connection;
    /// offline).
    pub fn day_plan(
        &self,
        date: Option<String>,
        lat: f64,
        lon: f64,
        return_to_start: bool,
    ) -> Result<crate::DayPlan> {
        let day = self::date("date", &date)?.unwrap_or_else(|| chrono::Local::now().date_naive());
        let start = fieldbook_core::analysis::route::GeoPoint::new(lat, lon).map_err(|e| {
            fieldbook_core::Error::InvalidValue {
                field: "start".into(),
                reason: e.to_string(),
            }
        })?;
        Ok(self
            .read(|r| r.day_plan(day, start, return_to_start))?
            .into())
    }

    /// The device's sync state (the read connection; no network).
    pub fn status(&self) -> Result<SyncStatus> {
        self.read(|r| {
            let server_url = r.server_url()?;
            let handed = r.handed_away()?;
            Ok(SyncStatus {
                enrolled: server_url.is_some(),
                server_url,
                rep: r.rep().map(|rep| rep.to_string()),
                role: r.role()?,
                pending_cards: r.pending_cards()?,
                last_sync: r.last_sync()?.map(time),
                quarantined: r
                    .quarantined()?
                    .into_iter()
                    .map(|(card_id, code)| RefusedCard { card_id, code })
                    .collect(),
                territories: r.territories()?,
                cards: r.count()?,
                handed_away: handed.len() as u64,
                to_review: handed
                    .into_iter()
                    .filter(|h| h.to_review)
                    .map(|h| HandedAway {
                        card_id: h.card_id,
                        name: h.name,
                        changes: h.changes,
                    })
                    .collect(),
            })
        })
    }

    /// Sync with the enrolled server: push this device's edits, receive everyone's, in
    /// as few round trips as the data allows. Runs on a thread of its own; the store
    /// stays readable and editable meanwhile. `listener` hears of progress after every
    /// request. Cancel with [`Fieldbook::cancel_sync`] or by cancelling the awaiting
    /// coroutine/task: the sync stops before its next request (`sync.cancelled`), and
    /// what it applied stays. A second sync waits for the first.
    pub async fn sync(
        self: Arc<Self>,
        listener: Option<Arc<dyn SyncListener>>,
    ) -> Result<SyncSummary> {
        let cancel = Arc::new(Cancel::new());
        let on_drop = {
            let cancel = cancel.clone();
            Box::new(move || cancel.cancel())
        };
        let (tx, rx) = oneshot::channel(on_drop);
        let this = self.clone();
        let spawned = std::thread::Builder::new()
            .name("fieldbook-sync".into())
            .spawn(move || tx.send(this.run_sync(&cancel, listener)));
        if spawned.is_err() {
            return Err(FieldbookError::Internal {
                code: "ffi.thread".into(),
                reason: "the sync thread could not be started".into(),
            });
        }
        rx.await
    }

    /// Ask a running sync to stop before its next request.
    pub fn cancel_sync(&self) {
        if let Some(cancel) = lock(&self.running).as_ref() {
            cancel.cancel();
        }
    }
}

impl Fieldbook {
    fn write<T>(&self, f: impl FnOnce(&mut Store) -> fieldbook_core::Result<T>) -> Result<T> {
        Ok(self.writer.with_store(f)?)
    }

    fn read<T>(&self, f: impl FnOnce(&mut StoreReader) -> fieldbook_core::Result<T>) -> Result<T> {
        let mut guard = lock(&self.reader);
        let reader = guard.as_mut().ok_or(fieldbook_core::Error::Closed)?;
        Ok(f(reader)?)
    }

    fn add(
        &self,
        card_id: &str,
        collection: &str,
        fields: &[FieldEdit],
        at: Option<DateTime<Utc>>,
    ) -> Result<String> {
        let id = self::card_id(card_id)?;
        let fields = pairs(fields);
        self.write(|s| {
            let now = match at {
                Some(t) => t,
                None => s.estimated_now()?,
            };
            let mut item = String::new();
            s.update(&id, |card| {
                item = card.add_item(collection, &fields, now)?;
                Ok(())
            })?;
            Ok(item)
        })
    }

    /// The transport to `server_url`: the app's HTTP client, or the built-in one.
    fn transport(&self, server_url: &str) -> Result<Box<dyn Transport>> {
        if let Some(client) = lock(&self.http_client).clone() {
            return Ok(Box::new(ForeignTransport {
                base_url: server_url.to_string(),
                client,
            }));
        }
        let cas = lock(&self.ca_certificates).clone();
        Ok(Box::new(sync::http::HttpTransport::new(server_url, &cas)?))
    }

    fn run_sync(
        &self,
        cancel: &Arc<Cancel>,
        listener: Option<Arc<dyn SyncListener>>,
    ) -> Result<SyncSummary> {
        let _gate = lock(&self.sync_gate);
        *lock(&self.running) = Some(cancel.clone());
        let result = (|| {
            let url = self
                .write(|s| s.enrolment())?
                .ok_or(fieldbook_core::Error::NotEnrolled)?
                .server_url;
            let transport = self.transport(&url)?;
            let mut listener_error: Option<FieldbookError> = None;
            let mut on_progress = |p: &sync::SyncProgress| -> fieldbook_core::Result<()> {
                if let Some(l) = &listener
                    && let Err(e) = l.on_progress(p.into())
                {
                    listener_error = Some(e);
                    return Err(fieldbook_core::Error::Cancelled);
                }
                Ok(())
            };
            let report = sync::sync_shared(&self.writer, &*transport, &mut on_progress, cancel);
            if let Some(e) = listener_error {
                return Err(e);
            }
            Ok(SyncSummary::from(report?))
        })();
        *lock(&self.running) = None;
        result
    }
}
