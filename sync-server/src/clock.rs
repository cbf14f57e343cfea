//! The server's clock: the wall clock, plus an offset only tests and drills set.
//!
//! Every rule that depends on time (token expiry, the handoff grace period, session
//! lifetimes, "edits in the last week") reads [`Clock::now`] through [`crate::AppState`],
//! never the system clock directly, so a test can move the server a week ahead and watch a
//! grace period end without waiting for it.

use std::sync::atomic::{AtomicI64, Ordering};

/// Unix seconds, shifted by a settable offset.
#[derive(Debug, Default)]
pub struct Clock {
    offset_secs: AtomicI64,
}

impl Clock {
    /// Now, in unix seconds (the system clock plus the offset).
    pub fn now(&self) -> i64 {
        crate::auth::now().saturating_add(self.offset_secs.load(Ordering::Relaxed))
    }

    /// Moves the clock forward (or back, with a negative value) by `secs`.
    pub fn advance(&self, secs: i64) {
        self.offset_secs.fetch_add(secs, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advance_moves_now_by_the_offset() {
        let clock = Clock::default();
        let before = clock.now();
        clock.advance(8 * 24 * 3600);
        let after = clock.now();
        assert!(after - before >= 8 * 24 * 3600);
        assert!(after - before < 8 * 24 * 3600 + 60);
    }
}
