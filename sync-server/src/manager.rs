//! The manager's read model and its JSON API (built in its own part of issue 8). This file
//! holds, for now, the page type every paginated manager-facing answer shares (the review
//! queue uses it too).

use serde::{Deserialize, Serialize};

/// One page of a paginated answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The rows of this page.
    pub items: Vec<T>,
    /// The page number, from 1.
    pub page: u64,
    /// Rows per page.
    pub per_page: u64,
    /// How many rows there are in all.
    pub total: u64,
}
