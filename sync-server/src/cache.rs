//! A bounded LRU cache of loaded card documents, above the [`Storage`](crate::storage::Storage)
//! boundary.
//!
//! `Automerge::load` of a card with a few dozen changes costs about a millisecond; a card
//! edited again and again (the same rep syncing through the day) would pay it on every push.
//! The cache keeps the loaded document of recently written cards, keyed by card id and
//! tagged with the `last_position` and heads of the stored card it equals.
//!
//! **Correct with several server instances on one database.** An entry is only a shortcut
//! for `Automerge::load(stored.doc)`: the caller always reads the stored card first and
//! [`DocCache::take`] returns the document only when the stored card's `last_position` *and*
//! heads are the entry's, so a card another instance (or another request) moved since is
//! loaded from storage again. Writes still go through `Storage::commit_card` and its
//! optimistic check, so the cache never decides what is stored.
//!
//! **Exclusive use.** [`DocCache::take`] removes the entry: the caller applies a push to the
//! document (which changes it), and puts it back with [`DocCache::put`] only once the result
//! is committed. A refused or failed push drops the document, so a cached document never
//! holds anything that was not stored. Two requests for one card at once take turns
//! ([`DocCache::writers`], `card_locks`), so the second finds the first's document here.
//!
//! **Bounded** by a number of documents ([`crate::Config::doc_cache_cards`]); the least
//! recently used entry is evicted. Capacity 0 disables the cache.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use automerge::Automerge;

use crate::card_locks::CardLocks;
use crate::manager::scope_cards::ParsedCards;
use crate::storage::StoredCard;

/// The cache. Cheap to share (`Arc`); every method takes `&self`.
pub struct DocCache {
    capacity: usize,
    inner: Mutex<Inner>,
    /// What the bulk analyses parsed of the cards' analysis rows, kept by row version
    /// (`manager::scope_cards`): the other in-memory copy of card state a server keeps.
    parsed: ParsedCards,
    /// Writers of one card take turns in this process (`card_locks`); kept here because
    /// every writer already holds the cache, and its turn is what makes the next writer
    /// find the cached document current.
    writers: CardLocks,
}

/// Parsed cards kept for the bulk analyses, at most this many.
const PARSED_CARDS: usize = 50_000;

#[derive(Default)]
struct Inner {
    /// Card id → entry.
    entries: HashMap<String, Entry>,
    /// Last use (a counter) → card id, oldest first.
    order: BTreeMap<u64, String>,
    tick: u64,
    hits: u64,
    misses: u64,
}

struct Entry {
    last_position: u64,
    heads: Vec<[u8; 32]>,
    doc: Automerge,
    used: u64,
}

impl std::fmt::Debug for DocCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (len, hits, misses) = self
            .inner
            .lock()
            .map(|i| (i.entries.len(), i.hits, i.misses))
            .unwrap_or_default();
        f.debug_struct("DocCache")
            .field("capacity", &self.capacity)
            .field("len", &len)
            .field("hits", &hits)
            .field("misses", &misses)
            .finish()
    }
}

impl DocCache {
    /// A cache holding at most `capacity` documents (0: none).
    pub fn new(capacity: usize) -> DocCache {
        DocCache {
            capacity,
            inner: Mutex::new(Inner::default()),
            parsed: ParsedCards::new(if capacity == 0 { 0 } else { PARSED_CARDS }),
            writers: CardLocks::default(),
        }
    }

    /// The cards being written in this process: hold a card's lock from reading it to
    /// committing it (the lock is held even with the cache disabled).
    pub fn writers(&self) -> &CardLocks {
        &self.writers
    }

    /// The parsed cards the bulk analyses keep (disabled with the cache).
    pub fn parsed_cards(&self) -> &ParsedCards {
        &self.parsed
    }

    /// The document of `stored`: taken from the cache when an entry matches the stored
    /// card's `last_position` and heads, else `None` (the caller loads it). The entry is
    /// removed either way: the caller owns the document now.
    pub fn take(&self, stored: &StoredCard) -> Option<Automerge> {
        if self.capacity == 0 {
            return None;
        }
        let mut inner = self.inner.lock().ok()?;
        let Some(entry) = inner.entries.remove(&stored.card_id) else {
            inner.misses += 1;
            return None;
        };
        inner.order.remove(&entry.used);
        if entry.last_position == stored.last_position && entry.heads == stored.heads {
            inner.hits += 1;
            Some(entry.doc)
        } else {
            inner.misses += 1;
            None
        }
    }

    /// Keeps `doc` as the document of card `card_id` as stored at `last_position` (its
    /// heads are read from the document), evicting the least recently used entry if full.
    pub fn put(&self, card_id: &str, last_position: u64, doc: Automerge) {
        if self.capacity == 0 {
            return;
        }
        let heads = doc.get_heads().into_iter().map(|h| h.0).collect();
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        inner.tick += 1;
        let used = inner.tick;
        if let Some(old) = inner.entries.remove(card_id) {
            inner.order.remove(&old.used);
        }
        while inner.entries.len() >= self.capacity {
            let Some((_, oldest)) = inner.order.pop_first() else {
                break;
            };
            inner.entries.remove(&oldest);
        }
        inner.order.insert(used, card_id.to_owned());
        inner.entries.insert(
            card_id.to_owned(),
            Entry {
                last_position,
                heads,
                doc,
                used,
            },
        );
    }

    /// Forgets a card (e.g. after a write whose resulting position is unknown).
    pub fn forget(&self, card_id: &str) {
        if let Ok(mut inner) = self.inner.lock()
            && let Some(old) = inner.entries.remove(card_id)
        {
            inner.order.remove(&old.used);
        }
    }

    /// Forgets a card's document if it is older than `last_position` (another instance
    /// wrote the card since): memory freed early instead of a stale entry found later.
    pub fn forget_before(&self, card_id: &str, last_position: u64) {
        if let Ok(mut inner) = self.inner.lock()
            && inner
                .entries
                .get(card_id)
                .is_some_and(|e| e.last_position < last_position)
            && let Some(old) = inner.entries.remove(card_id)
        {
            inner.order.remove(&old.used);
        }
    }

    /// Documents held now.
    pub fn len(&self) -> usize {
        self.inner.lock().map(|i| i.entries.len()).unwrap_or(0)
    }

    /// Whether the cache holds no document.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `(hits, misses)` of [`Self::take`] so far.
    pub fn hits_and_misses(&self) -> (u64, u64) {
        self.inner
            .lock()
            .map(|i| (i.hits, i.misses))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::Transactable;

    fn doc(value: &str) -> Automerge {
        let mut d = automerge::AutoCommit::new();
        d.put(automerge::ROOT, "v", value).expect("put");
        d.commit();
        d.document().clone()
    }

    fn stored(id: &str, last_position: u64, doc: &Automerge) -> StoredCard {
        StoredCard {
            card_id: id.into(),
            territory: "t".into(),
            doc: Vec::new(),
            first_position: 1,
            last_position,
            heads: doc.get_heads().into_iter().map(|h| h.0).collect(),
        }
    }

    #[test]
    fn hit_only_when_position_and_heads_match_and_take_is_exclusive() {
        let cache = DocCache::new(4);
        let a = doc("a");
        let s = stored("c", 5, &a);
        cache.put("c", 5, a.clone());
        assert!(cache.take(&stored("c", 6, &a)).is_none(), "moved on");
        cache.put("c", 5, a.clone());
        assert!(
            cache.take(&stored("c", 5, &doc("b"))).is_none(),
            "other heads"
        );
        cache.put("c", 5, a.clone());
        assert_eq!(cache.take(&s).map(|d| d.get_heads()), Some(a.get_heads()));
        assert!(cache.take(&s).is_none(), "taken");
    }

    #[test]
    fn evicts_the_least_recently_used() {
        let cache = DocCache::new(2);
        let d = doc("x");
        cache.put("a", 1, d.clone());
        cache.put("b", 1, d.clone());
        assert!(cache.take(&stored("a", 1, &d)).is_some());
        cache.put("a", 1, d.clone());
        cache.put("c", 1, d.clone());
        assert_eq!(cache.len(), 2);
        assert!(cache.take(&stored("b", 1, &d)).is_none(), "b was oldest");
        assert!(cache.take(&stored("a", 1, &d)).is_some());
        assert!(cache.take(&stored("c", 1, &d)).is_some());
        let off = DocCache::new(0);
        off.put("a", 1, d.clone());
        assert!(off.take(&stored("a", 1, &d)).is_none());
    }
}
