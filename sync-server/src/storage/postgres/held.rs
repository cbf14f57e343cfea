//! (being ported from `sqlite/held.rs`)
