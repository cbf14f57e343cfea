//! A device's own settings: local preferences that change how this device keeps its
//! data, never how anything is computed.
//!
//! The rules (visit cadence per class, ABC thresholds, credit review periods, pipeline
//! probabilities, …) are the company's, kept on the server and delivered by sync
//! ([`crate::company::CompanySettings`]), so a phone and the server cannot disagree about
//! them. Stores written by earlier versions kept the visit cadence here; those keys are
//! ignored when read.

use serde::{Deserialize, Serialize};

/// Local settings of a device store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Incremental chunks a card may pile up before it is compacted.
    pub compact_after_chunks: u32,
    /// How many loaded documents the store keeps in memory.
    pub cache_cards: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            compact_after_chunks: 32,
            cache_cards: 64,
        }
    }
}
