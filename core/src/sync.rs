//! Sync with the server: one round trip carrying only what changed.
//!
//! - [`wire`]: the byte format shared with the server.
//! - [`transport`]: the seam to the network; [`http`] is the default implementation.
//! - [`session`]: one sync as a state machine with no I/O — plan a request from the
//!   store, apply its answer in one transaction — pushing what the server lacks,
//!   applying what it sends, paging, falling back to `automerge::sync` where the fast
//!   path cannot work.
//! - [`engine`]: the drivers that send what a session plans (over `&mut Store`, or over
//!   a shared store locked only between requests, with cancellation), and enrolment.
//!
//! Architecture invariant: core talks to the network only through [`Transport`].

pub mod engine;
#[cfg(feature = "http")]
pub mod http;
pub mod session;
pub mod transport;
pub mod wire;

pub use engine::{
    Cancel, SharedStore, SyncProgress, SyncReport, enrol, enrol_finish, enrol_request, send, sync,
    sync_shared,
};
pub use session::{HttpRequest, Step, SyncSession};
pub use transport::{HttpResponse, Transport};
