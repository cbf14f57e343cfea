//! Integration tests of fieldbook-server: a real server on 127.0.0.1:0 with a temp SQLite
//! file per test, and devices made of raw Automerge documents speaking HTTP with reqwest.

mod harness;

mod abuse;
mod activity_rollup;
mod approval;
mod authz;
mod bad_input;
mod bombs;
mod conformance;
mod fallback;
mod handoff;
mod instances;
mod manager;
mod move_to_postgres;
mod paging;
mod schema_upgrade;
mod scope;
mod settings;
mod sync_flow;
