//! Fieldbook core.
pub mod sync;
