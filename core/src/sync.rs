//! Sync with the server: one round trip carrying only what changed.
//!
//! - [`wire`]: the byte format shared with the server.
//! - [`transport`]: the seam to the network; [`http`] is the default implementation.
//! - [`engine`]: the sync loop — push what the server lacks, apply what it sends,
//!   page, fall back to `automerge::sync` where the fast path cannot work.
//!
//! Architecture invariant: core talks to the network only through [`Transport`].

pub mod engine;
#[cfg(feature = "http")]
pub mod http;
pub mod transport;
pub mod wire;

pub use engine::{SyncProgress, SyncReport, enrol, sync};
pub use transport::{HttpResponse, Transport};
