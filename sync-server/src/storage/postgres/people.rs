//! (being ported from `sqlite/people.rs`)
