//! Walking every change of a card in causal order for the cost of the changes' own
//! operations.
//!
//! What a change did is the diff between its dependencies and itself
//! ([`super::walk_change`]). Automerge's `diff` between two historical heads visits every
//! operation of the document, so walking a 50-change card that way is 50 walks of the
//! whole document: about 50 ms for a 7 KB card. Replaying the changes into an empty
//! document one at a time, each with a patch log, gives the same patches for the cost of
//! the change alone: when every head of the replayed document is among a change's
//! dependencies, applying the change takes it from the state its dependencies left to the
//! state at the change, the two states the diff compares. A change made concurrently with
//! one already replayed (a head of the replay it does not depend on) is diffed on the
//! document as before, so the result never depends on which way it was found (tested
//! below against the diff for every change of linear and forked histories).

use automerge::{Automerge, Change, ChangeMetadata, PatchLog};

use super::{Walk, walk_change, walk_patches};

/// Walks the changes of one document, asked for in causal order.
pub(super) struct ChangeWalker<'a> {
    doc: &'a Automerge,
    /// The document as the changes replayed so far make it.
    replay: Automerge,
    /// The changes not replayed yet, in the document's causal order (the order of
    /// `get_changes_meta(&[])`).
    pending: std::vec::IntoIter<Change>,
    /// How many walks were replayed rather than diffed (for the tests).
    replayed: usize,
}

impl<'a> ChangeWalker<'a> {
    pub(super) fn new(doc: &'a Automerge) -> Self {
        ChangeWalker {
            doc,
            replay: Automerge::new_with_encoding(doc.text_encoding()),
            pending: doc.get_changes(&[]).into_iter(),
            replayed: 0,
        }
    }

    /// What the change did. Changes skipped since the last call are replayed without
    /// being walked; a change asked for out of causal order is diffed on the document.
    pub(super) fn walk(&mut self, meta: &ChangeMetadata<'_>) -> Walk {
        let diffed = || walk_change(self.doc, meta.hash, &meta.deps);
        loop {
            let Some(change) = self.pending.next() else {
                return diffed();
            };
            if change.hash() != meta.hash {
                if self.replay.apply_changes([change]).is_err() {
                    // Cannot happen for the document's own changes; if it did, the
                    // replay would no longer be the document's history.
                    self.pending = Vec::new().into_iter();
                }
                continue;
            }
            // The state at the change's dependencies is the replay's iff every head of the
            // replay is one of them: a head has no descendant replayed, so it cannot be
            // below another dependency. A change may name more dependencies than the heads
            // (Automerge adds its actor's previous change, often an ancestor of another).
            let linear = self
                .replay
                .get_heads()
                .iter()
                .all(|head| meta.deps.contains(head));
            let mut log = PatchLog::new(linear);
            if self
                .replay
                .apply_changes_log_patches([change], &mut log)
                .is_err()
            {
                self.pending = Vec::new().into_iter();
                return diffed();
            }
            if !linear {
                return diffed();
            }
            let patches = self.replay.make_patches(&mut log);
            self.replayed += 1;
            return walk_patches(&self.replay, patches, meta.hash, &meta.deps);
        }
    }
}

// Demo documents make the histories (the workspace's test run enables `demo`).
#[cfg(all(test, feature = "demo"))]
mod tests {
    use super::*;
    use crate::card::doc::{read_card, write_card};
    use crate::demo::{DemoAuthor, DemoRng, demo_document, demo_edit};
    use automerge::ActorId;
    use automerge::transaction::CommitOptions;
    use chrono::{DateTime, NaiveDate};

    fn authors() -> Vec<DemoAuthor> {
        ["zhangwei", "lina", "wangfang", "liuyang"]
            .iter()
            .map(|r| DemoAuthor::new(r.parse().expect("rep")))
            .collect()
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 23).expect("date")
    }

    /// One demo edit on `doc` as a device, at a time.
    fn edit(doc: &mut Automerge, rng: &mut DemoRng, device: &ActorId, rep: &str, at: i64) {
        let old = read_card(&*doc, None).expect("read");
        let mut new = old.clone();
        let when = DateTime::from_timestamp(at, 0).expect("time");
        demo_edit(&mut new, rng, when, rep);
        if new == old {
            return;
        }
        doc.set_actor(device.clone());
        doc.set_author(Some(
            rep.parse::<crate::ids::RepId>().expect("rep").author(),
        ));
        doc.transact_with(
            |_: &Vec<String>| CommitOptions::default().with_time(at),
            |tx| write_card(tx, &old, &new),
        )
        .expect("edit");
    }

    /// Every change walked both ways agrees; how many changes, and how many of them
    /// were replayed (not diffed).
    fn assert_walks_agree(doc: &Automerge) -> (usize, usize) {
        let metas = doc.get_changes_meta(&[]);
        let mut walker = ChangeWalker::new(doc);
        for meta in &metas {
            let replayed = walker.walk(meta);
            let diffed = walk_change(doc, meta.hash, &meta.deps);
            assert_eq!(replayed, diffed, "change {}", meta.hash);
        }
        (metas.len(), walker.replayed)
    }

    #[test]
    fn replayed_walks_equal_the_diffs_of_linear_histories() {
        for seed in [1_u64, 20_261_123, 77] {
            let (_, bytes) =
                demo_document(seed, 3, "华东区", &authors(), 50, today()).expect("demo");
            let doc = Automerge::load(&bytes).expect("load");
            let (changes, replayed) = assert_walks_agree(&doc);
            assert!(changes > 40);
            assert_eq!(replayed, changes, "a linear history is replayed throughout");
        }
    }

    #[test]
    fn replayed_walks_equal_the_diffs_when_devices_edited_concurrently() {
        let (_, bytes) = demo_document(9, 1, "华南区", &authors(), 12, today()).expect("demo");
        let mut a = Automerge::load(&bytes).expect("load");
        let (dev_a, dev_b) = (ActorId::from(vec![0xA1; 16]), ActorId::from(vec![0xB2; 16]));
        let mut rng = DemoRng::new(5);
        let t0 = 1_795_000_000;
        for round in 0..4_i64 {
            // Both phones edit offline, then sync: forks of 1–3 changes each side.
            let mut b = a.fork().with_actor(dev_b.clone());
            for i in 0..(1 + round % 3) {
                edit(&mut a, &mut rng, &dev_a, "zhangwei", t0 + round * 1000 + i);
                edit(
                    &mut b,
                    &mut rng,
                    &dev_b,
                    "lina",
                    t0 + round * 1000 + i + 500,
                );
            }
            a.merge(&mut b).expect("merge");
            edit(
                &mut a,
                &mut rng,
                &dev_a,
                "zhangwei",
                t0 + round * 1000 + 900,
            );
        }
        let reloaded = Automerge::load(&a.save()).expect("load");
        let metas = reloaded.get_changes_meta(&[]);
        assert!(
            metas.iter().any(|m| m.deps.len() > 1),
            "the history has merges"
        );
        let (changes, replayed) = assert_walks_agree(&reloaded);
        assert!(changes > 20);
        // The second side of each fork and nothing else is diffed.
        let forked = metas.len() - replayed;
        assert!(
            replayed > changes / 2 && forked >= 4,
            "{replayed} of {changes}"
        );
    }

    #[test]
    fn changes_asked_for_out_of_order_are_still_walked() {
        let (_, bytes) = demo_document(4, 2, "华北区", &authors(), 10, today()).expect("demo");
        let doc = Automerge::load(&bytes).expect("load");
        let metas = doc.get_changes_meta(&[]);
        let mut walker = ChangeWalker::new(&doc);
        let last = metas.last().expect("changes");
        assert_eq!(walker.walk(last), walk_change(&doc, last.hash, &last.deps));
        // Everything before it was replayed past: diffed now.
        let first = metas.first().expect("changes");
        assert_eq!(
            walker.walk(first),
            walk_change(&doc, first.hash, &first.deps)
        );
        assert_eq!(walker.replayed, 1);
    }
}
