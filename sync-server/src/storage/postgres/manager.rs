//! (being ported from `sqlite/manager.rs`)
