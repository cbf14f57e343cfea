//! Settings a user can change, with DOMAIN.md's numbers as defaults.
//!
//! Nothing here is a constant buried in code: the store persists the settings and
//! every computation (visit due dates, …) reads them from here.

use serde::{Deserialize, Serialize};

use crate::value::Class;

/// User-adjustable settings of a device store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Days between visits for class A customers (default: weekly).
    pub visit_days_a: u32,
    /// Days between visits for class B customers (default: every two weeks).
    pub visit_days_b: u32,
    /// Days between visits for class C customers (default: monthly).
    pub visit_days_c: u32,
    /// Days between visits for class D prospects (default: quarterly).
    pub visit_days_d: u32,
    /// Days between visits for customers without a class.
    pub visit_days_unclassified: u32,
    /// Incremental chunks a card may pile up before it is compacted.
    pub compact_after_chunks: u32,
    /// How many loaded documents the store keeps in memory.
    pub cache_cards: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            visit_days_a: 7,
            visit_days_b: 14,
            visit_days_c: 30,
            visit_days_d: 90,
            visit_days_unclassified: 30,
            compact_after_chunks: 32,
            cache_cards: 64,
        }
    }
}

impl Settings {
    /// Days between visits for a class (`None`: unclassified).
    pub fn visit_days(&self, class: Option<Class>) -> u32 {
        match class {
            Some(Class::A) => self.visit_days_a,
            Some(Class::B) => self.visit_days_b,
            Some(Class::C) => self.visit_days_c,
            Some(Class::D) => self.visit_days_d,
            None => self.visit_days_unclassified,
        }
    }
}
