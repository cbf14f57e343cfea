//! Wire types of the sync protocol (owned by the sync-server work; placeholder).
