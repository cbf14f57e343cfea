//! Fieldbook for phone apps: the uniffi surface over `fieldbook-core`.
//!
//! This crate adds no logic of its own: every rule, check and error code is core's.
//! It turns core's calls into an object API that uniffi exports to Kotlin, Swift and
//! Python, converts core's types into plain records, and converts core's errors into
//! [`FieldbookError`] through `fieldbook_core::ApiError` (the one place that decides
//! what an app sees and what is logged).
//!
//! - [`Fieldbook`] (`fieldbook.rs`): a handle on one store file, opened optionally
//!   encrypted. Thread-safe; every method may be called from any thread.
//! - `records.rs`: the records crossing the boundary (cards, lists, history,
//!   conflicts, sync status and reports).
//! - `transport.rs`: how a sync reaches the server: built in (reqwest + rustls with
//!   bundled roots), or the app's own HTTP stack through the [`HttpClient`] foreign
//!   trait (OkHttp, URLSession), so its proxy, pinning and network policy apply.
//! - `oneshot.rs`: the future an async sync returns.
//!
//! **Threads.** Every method except `sync` does disk I/O (SQLite) and must not run on a
//! UI thread: call it from a background dispatcher (`Dispatchers.IO`, a Swift `Task`).
//! Reads (`card`, `list`, `search`, `history`, `status`) go to the store's read
//! connection and answer while a sync is applying or waiting on the network; edits go
//! to the writer and wait at most for one sync step. `sync` is `async` (Kotlin
//! `suspend`, Swift `async`, Python `async def`) and runs on a thread of its own.

mod analysis;
mod error;
mod fieldbook;
mod oneshot;
mod records;
mod transport;

pub use analysis::{
    AbcEntry, AbcReport, CompanySettingsInfo, DayPlan, DueVisit, DuplicatePairInfo, MergeInfo,
    PlanNote, RouteStop,
};
pub use error::FieldbookError;
pub use fieldbook::Fieldbook;
pub use records::*;
pub use transport::{HttpClient, HttpRequest, HttpResponse, TransportError};

uniffi::setup_scaffolding!();
