//! (being ported from `sqlite/devices.rs`)
