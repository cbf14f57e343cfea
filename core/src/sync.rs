//! Sync: the wire format shared with the server, and (later) the device's sync engine.

pub mod wire;
