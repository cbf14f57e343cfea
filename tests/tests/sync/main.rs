//! Devices and a real sync server, end to end: real `Store` files in temp dirs, a
//! real `fieldbook-server` on an ephemeral loopback port, real HTTP.
//!
//! Each module is one theme; tests read as steps of a rep's day.

mod support;

mod analysis;
mod clock_skew;
mod converge;
mod counts;
mod device_handoff;
mod disk;
mod duplicates;
mod faults;
mod handoff;
mod quarantine;
mod recover;
mod settings;
mod shared;
