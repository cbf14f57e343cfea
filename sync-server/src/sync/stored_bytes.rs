//! The bytes a card is stored as: the stored document with new change chunks appended,
//! compacted by `save()` once the tail grows.

use automerge::Automerge;
use fieldbook_core::guard::document_chunk_len;

use crate::storage::{NewChange, StoredCard};

/// Smallest tail of change chunks a stored document may carry before it is compacted.
const COMPACT_MIN_TAIL: usize = 2 * 1024;

/// The bytes to store for a card's document after `changes`: the stored bytes with the new
/// change chunks appended (still one loadable document: `Automerge::load` reads a document
/// chunk followed by change chunks), or a fresh `save()` once the appended tail outgrows
/// a quarter of the compacted part (at least [`COMPACT_MIN_TAIL`]). `save()` spends most of
/// its time compressing columns; this way a card edited one change at a time pays it
/// every ten or so edits instead of on every one.
pub(crate) fn stored_bytes(
    doc: &Automerge,
    stored: Option<&StoredCard>,
    changes: &[NewChange],
) -> Vec<u8> {
    if let Some(card) = stored
        && let Some(compacted) = document_chunk_len(&card.doc)
    {
        let tail = card.doc.len().saturating_sub(compacted)
            + changes.iter().map(|c| c.bytes.len()).sum::<usize>();
        if tail <= COMPACT_MIN_TAIL.max(compacted / 4) {
            let mut out = Vec::with_capacity(compacted + tail);
            out.extend_from_slice(&card.doc);
            for change in changes {
                out.extend_from_slice(&change.bytes);
            }
            return out;
        }
    }
    doc.save()
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::AutoCommit;
    use automerge::transaction::Transactable;

    fn card(doc: &[u8], heads: Vec<[u8; 32]>) -> StoredCard {
        StoredCard {
            card_id: "c".into(),
            territory: "t".into(),
            doc: doc.to_vec(),
            first_position: 1,
            last_position: 1,
            heads,
        }
    }

    /// Stored bytes stay one loadable document through many appends and compactions.
    #[test]
    fn appended_tails_load_and_get_compacted() {
        let mut doc = AutoCommit::new();
        doc.put(automerge::ROOT, "notes", "x".repeat(4000))
            .expect("put");
        doc.commit();
        let mut bytes = doc.save();
        let compacted_len = bytes.len();
        assert_eq!(document_chunk_len(&bytes), Some(compacted_len));
        let mut compactions = 0;
        for i in 0..200 {
            let before = doc.get_heads();
            doc.put(automerge::ROOT, "phone", format!("138{i:08}"))
                .expect("put");
            doc.commit();
            let changes: Vec<NewChange> = doc
                .document()
                .get_changes(&before)
                .into_iter()
                .map(|c| NewChange {
                    hash: c.hash().0,
                    bytes: c.raw_bytes().to_vec(),
                })
                .collect();
            let stored = card(&bytes, Vec::new());
            let next = stored_bytes(doc.document(), Some(&stored), &changes);
            if next.len() < bytes.len() {
                compactions += 1;
            }
            bytes = next;
            let loaded = Automerge::load(&bytes).expect("stored bytes load");
            assert_eq!(loaded.get_heads(), doc.get_heads());
            assert!(document_chunk_len(&bytes).is_some());
            assert!(bytes.len() <= compacted_len * 2 + COMPACT_MIN_TAIL + 1024);
        }
        assert!(compactions > 3, "compacted {compactions} times");
        assert_eq!(document_chunk_len(b"not a document"), None);
        assert_eq!(
            document_chunk_len(&[0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, 0, 0xff]),
            None
        );
    }
}
