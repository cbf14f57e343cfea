//! (being ported from `sqlite/web.rs`)
