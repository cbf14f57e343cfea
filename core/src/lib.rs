//! # Fieldbook core
//!
//! The engine of Fieldbook, an offline-first customer book for field sales reps.
//! Each customer card (客户资料卡) is an [Automerge](automerge) document, stored in a
//! crash-safe SQLite file on the device, edited offline, and merged with everyone
//! else's edits without conflicts or loss.
//!
//! ## The model
//! - A [`Card`] is plain typed data: sections (basic data, credit, …), items
//!   (contacts, visits, to-dos, opportunities), monthly sales, tags. Facts are
//!   registers; long free text (notes, visit summaries) is Automerge Text.
//! - A [`Store`] holds the cards of one device. [`Store::update`] runs a closure on
//!   the current card and writes back only what changed, as one Automerge change
//!   authored by the device's rep, durable when the call returns.
//! - Concurrent edits of the same field are not hidden: [`CardView::conflicts`]
//!   lists every value with who set it and when, until [`Store::resolve`].
//! - [`Store::history`] says who changed which fields when, from which device.
//! - Lists and search ([`Store::list`]) read a SQLite index, never documents.
//!
//! ```
//! use fieldbook_core::{Store, Card};
//! let dir = tempfile::tempdir().unwrap();
//! let mut store = Store::open(dir.path().join("device.db")).unwrap();
//! store.init_identity("zhangwei".parse().unwrap()).unwrap();
//! let id = store.create(|card| {
//!     card.basic.name = Some("上海华东客户服务有限公司".into());
//!     Ok(())
//! }).unwrap();
//! store.update(&id, |card| card.set_path("basic.phone", "021-6234 5678")).unwrap();
//! let hits = store.search("客户", 10).unwrap();
//! assert_eq!(hits[0].id, id);
//! ```

pub mod analysis;
pub mod api_error;
pub mod card;
pub mod clock;
pub mod company;
#[cfg(feature = "demo")]
pub mod demo;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod guard;
pub mod history;
pub mod ids;
pub mod query;
pub mod search;
pub mod settings;
pub mod store;
pub mod sync;
#[cfg(feature = "transfer")]
pub mod transfer;
pub mod value;

pub use api_error::{ApiError, ErrorKind};
pub use card::conflicts::{Conflict, ConflictValue};
pub use card::{Card, Keyed};
pub use company::{CompanySettings, RevisedSettings};
pub use error::{Error, Result};
pub use history::{FieldChange, HistoryEntry};
pub use ids::{CardId, RepId, YearMonth};
pub use query::{CardQuery, CardSummary, SortBy};
pub use settings::Settings;
pub use store::{CardView, ImportReport, Store};
