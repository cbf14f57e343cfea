//! Writers of one card inside this process take turns.
//!
//! Card writes are optimistic ([`Storage::commit_card`](crate::storage::Storage::commit_card)
//! fails with `Conflict` when the card moved since it was read), which is what keeps several
//! server instances on one database correct. Inside one process, though, letting every
//! request for a hot card race is wasteful and, with group commit, unfair: six devices
//! pushing the same card at once all read version *n*, one wins, five redo the work, and a
//! device can lose every one of its retries (seen in CI as `server.busy`). So a request
//! takes the lock of each card it may write before reading them: the second writer of a card
//! waits for the first to commit, then finds the card (and the cached document) current.
//! The optimistic check stays, for other instances. Pushes and fallback messages take
//! turns; a manager's handoff (a whole territory of cards) and review decisions stay purely
//! optimistic: they are rare, and holding a territory's cards would stall its reps' syncs.
//!
//! A request takes all its cards at once or waits with none held, so two requests with
//! overlapping cards cannot deadlock whatever their order. The table holds only the cards
//! being written now; a lock costs a hash-set insert.

use std::collections::HashSet;
use std::sync::{Condvar, Mutex, PoisonError};

/// The table of cards being written. Cheap to share (`Arc`); every method takes `&self`.
#[derive(Debug, Default)]
pub struct CardLocks {
    held: Mutex<HashSet<String>>,
    freed: Condvar,
}

/// The cards a request holds; released on drop.
#[derive(Debug)]
#[must_use = "the cards are released when this is dropped"]
pub struct CardsHeld<'a> {
    locks: &'a CardLocks,
    cards: Vec<String>,
}

impl CardLocks {
    /// Waits until none of `cards` is held by another request, then holds them all.
    /// Duplicates are fine. Blocking: call from a blocking thread, never from async code.
    pub fn hold<'a, I, S>(&'a self, cards: I) -> CardsHeld<'a>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut wanted: Vec<String> = cards.into_iter().map(|c| c.as_ref().to_owned()).collect();
        wanted.sort_unstable();
        wanted.dedup();
        // A poisoned table only means a holder panicked; its guard still released its
        // cards on unwind, so the set is consistent.
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        while wanted.iter().any(|c| held.contains(c)) {
            held = self
                .freed
                .wait(held)
                .unwrap_or_else(PoisonError::into_inner);
        }
        held.extend(wanted.iter().cloned());
        CardsHeld {
            locks: self,
            cards: wanted,
        }
    }

    /// How many cards are held right now (for tests and metrics).
    pub fn held(&self) -> usize {
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

impl Drop for CardsHeld<'_> {
    fn drop(&mut self) {
        if self.cards.is_empty() {
            return;
        }
        let mut held = self
            .locks
            .held
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for c in &self.cards {
            held.remove(c);
        }
        drop(held);
        self.locks.freed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn writers_of_one_card_take_turns_and_others_do_not_wait() {
        let locks = Arc::new(CardLocks::default());
        let inside = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let (locks, inside, most) = (locks.clone(), inside.clone(), most.clone());
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        // Every thread writes 客户-0; each also has a card of its own.
                        let own = format!("客户-{}", i + 1);
                        let _held = locks.hold(["客户-0", own.as_str(), "客户-0"]);
                        let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::yield_now();
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        assert_eq!(
            most.load(Ordering::SeqCst),
            1,
            "two writers of 客户-0 at once"
        );
        assert_eq!(locks.held(), 0);

        let a = locks.hold(["甲"]);
        let b = locks.hold(["乙"]);
        assert_eq!(locks.held(), 2);
        drop((a, b));
        assert_eq!(locks.held(), 0);
    }

    #[test]
    fn overlapping_requests_in_opposite_orders_do_not_deadlock() {
        let locks = Arc::new(CardLocks::default());
        let threads: Vec<_> = [["甲", "乙"], ["乙", "甲"]]
            .into_iter()
            .map(|order| {
                let locks = locks.clone();
                std::thread::spawn(move || {
                    for _ in 0..500 {
                        let _held = locks.hold(order);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        assert_eq!(locks.held(), 0);
    }
}
