//! (being ported from `sqlite/handoff.rs`)
