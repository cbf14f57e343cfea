//! (being ported from `sqlite/settings.rs`)
