//! Change bundles: cards carried between devices as a file, without a network.
//!
//! ```text
//! "FBBUNDL\0"  magic (8 bytes)          -- not ours → bundle.foreign
//! u16 LE       format version (1)       -- newer → bundle.unsupported_version
//! u16 LE       reserved (0)
//! u64 LE       body length              -- shorter file → bundle.truncated
//! [32]         SHA-256 of the body      -- mismatch → bundle.corrupt
//! body:        u32 LE count, then per card: u16 LE id length, id (UTF-8),
//!              u32 LE data length, data (Automerge bytes: a document or changes)
//! ```
//! Decoding checks everything before the store is touched, so an import either
//! applies completely or not at all. A bundle is a file from outside: [`load_entries`]
//! bounds every card's Automerge bytes ([`crate::guard`]) and the bundle's total before
//! Automerge sees them, then checks each document with the card validator.

use automerge::Automerge;
use sha2::{Digest, Sha256};

use crate::card::validate_card_doc;
use crate::error::{Error, Result};
use crate::guard::{BytesLimits, check_automerge_bytes};
use crate::ids::CardId;

const MAGIC: &[u8; 8] = b"FBBUNDL\0";
const VERSION: u16 = 1;
const HEADER_LEN: usize = 8 + 2 + 2 + 8 + 32;
/// The largest bundle accepted (1 GiB): anything larger is not a bundle we wrote.
const MAX_BODY: u64 = 1 << 30;

/// One card's data in a bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleEntry {
    /// The card id, as text (validated by the importer).
    pub card_id: String,
    /// Automerge bytes.
    pub data: Vec<u8>,
}

/// Encode entries as a bundle file.
pub fn encode(entries: &[BundleEntry]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    for e in entries {
        body.extend_from_slice(&(e.card_id.len() as u16).to_le_bytes());
        body.extend_from_slice(e.card_id.as_bytes());
        body.extend_from_slice(&(e.data.len() as u32).to_le_bytes());
        body.extend_from_slice(&e.data);
    }
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend_from_slice(&Sha256::digest(&body));
    out.extend_from_slice(&body);
    out
}

/// A cursor over bytes that fails with `bundle.corrupt` instead of panicking.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.bytes.len() < n {
            return Err(Error::BundleCorrupt(
                "an entry runs past the end of the bundle".into(),
            ));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }
    fn u16(&mut self) -> Result<u16> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

/// Decode and verify a bundle file.
pub fn decode(bytes: &[u8]) -> Result<Vec<BundleEntry>> {
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        return Err(Error::BundleForeign);
    }
    if bytes.len() < HEADER_LEN {
        return Err(Error::BundleTruncated {
            expected: HEADER_LEN as u64,
            found: bytes.len() as u64,
        });
    }
    let version = u16::from_le_bytes([bytes[8], bytes[9]]);
    if version > VERSION {
        return Err(Error::BundleUnsupportedVersion(version));
    }
    if bytes[10..12] != [0, 0] {
        return Err(Error::BundleCorrupt("unknown header flags".into()));
    }
    let mut len = [0u8; 8];
    len.copy_from_slice(&bytes[12..20]);
    let body_len = u64::from_le_bytes(len);
    if body_len > MAX_BODY {
        return Err(Error::BundleCorrupt(
            "declared size is implausibly large".into(),
        ));
    }
    let body = &bytes[HEADER_LEN..];
    let found = body.len() as u64;
    if found < body_len {
        return Err(Error::BundleTruncated {
            expected: HEADER_LEN as u64 + body_len,
            found: bytes.len() as u64,
        });
    }
    if found > body_len {
        return Err(Error::BundleCorrupt(
            "unexpected bytes after the end of the bundle".into(),
        ));
    }
    if Sha256::digest(body).as_slice() != &bytes[20..52] {
        return Err(Error::BundleCorrupt(
            "checksum mismatch: the file was damaged".into(),
        ));
    }
    let mut r = Reader { bytes: body };
    let count = r.u32()?;
    let mut entries = Vec::with_capacity(count.min(100_000) as usize);
    for _ in 0..count {
        let id_len = r.u16()? as usize;
        let id = std::str::from_utf8(r.take(id_len)?)
            .map_err(|_| Error::BundleCorrupt("a card id is not text".into()))?
            .to_string();
        let data_len = r.u32()? as usize;
        let data = r.take(data_len)?.to_vec();
        entries.push(BundleEntry { card_id: id, data });
    }
    if !r.bytes.is_empty() {
        return Err(Error::BundleCorrupt(
            "trailing bytes after the last entry".into(),
        ));
    }
    Ok(entries)
}

/// The most all cards of one bundle may inflate to together (each card is also bounded by
/// [`BytesLimits::CARD`]): an import holds every document in memory before it writes.
pub const MAX_BUNDLE_INFLATED: u64 = 256 * 1024 * 1024;

/// Loads decoded entries as card documents, all checked before any is returned: the card
/// id parses, the bytes pass the bounded pre-check (each card and the bundle in total),
/// they load, and the document is a valid card for that id.
///
/// Errors: `card.too_large` for a card or bundle over its limits, `card.invalid` for a
/// document that is not a card of that id, `bundle.corrupt` for anything else.
pub(crate) fn load_entries(entries: Vec<BundleEntry>) -> Result<Vec<(CardId, Automerge, Vec<u8>)>> {
    let mut total: u64 = 0;
    let mut out = Vec::with_capacity(entries.len());
    for entry in entries {
        let id: CardId = entry
            .card_id
            .parse()
            .map_err(|_| Error::BundleCorrupt("an entry has an invalid card id".into()))?;
        let limits = BytesLimits {
            max_inflated_bytes: BytesLimits::CARD
                .max_inflated_bytes
                .min(MAX_BUNDLE_INFLATED - total),
            ..BytesLimits::CARD
        };
        let checked = check_automerge_bytes(&entry.data, &limits).map_err(|e| match e {
            Error::BadBytes(why) => Error::BundleCorrupt(format!("card {id}: {why}")),
            other => other,
        })?;
        total += checked.inflated_bytes;
        let doc = Automerge::load(&entry.data)
            .map_err(|e| Error::BundleCorrupt(format!("card {id} does not decode: {e}")))?;
        validate_card_doc(&doc, id.as_str())?;
        out.push((id, doc, entry.data));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trip(entries in proptest::collection::vec(("[a-z0-9-]{0,40}", proptest::collection::vec(any::<u8>(), 0..200)), 0..8)) {
            let entries: Vec<BundleEntry> = entries.into_iter().map(|(card_id, data)| BundleEntry { card_id, data }).collect();
            prop_assert_eq!(decode(&encode(&entries)).ok(), Some(entries));
        }

        #[test]
        fn any_damage_is_detected_without_panic(cut in 0usize..200, flip in 0usize..200) {
            let bytes = encode(&[BundleEntry { card_id: "x".into(), data: vec![7; 100] }]);
            let truncated = &bytes[..cut.min(bytes.len() - 1)];
            prop_assert!(decode(truncated).is_err());
            let mut flipped = bytes.clone();
            let i = flip % flipped.len();
            flipped[i] ^= 0x40;
            prop_assert!(decode(&flipped).is_err());
        }
    }

    #[test]
    fn foreign_and_truncated_have_their_own_codes() {
        assert_eq!(
            decode(b"PK\x03\x04 a zip file").map_err(|e| e.code()),
            Err("bundle.foreign")
        );
        let bytes = encode(&[BundleEntry {
            card_id: "x".into(),
            data: vec![1; 10],
        }]);
        assert_eq!(
            decode(&bytes[..bytes.len() - 3]).map_err(|e| e.code()),
            Err("bundle.truncated")
        );
    }

    fn store() -> (tempfile::TempDir, crate::Store) {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = crate::Store::open(dir.path().join("d.db")).expect("open");
        store
            .init_identity("zhangwei".parse().expect("rep"))
            .expect("init");
        (dir, store)
    }

    /// A bundle whose card inflates to 1 GiB is refused before Automerge sees it: nothing
    /// imported, memory bounded.
    #[test]
    fn a_decompression_bomb_in_a_bundle_is_refused() {
        let (_dir, mut store) = store();
        let id = uuid::Uuid::new_v4().to_string();
        let bomb = crate::guard::craft::gib_compressed_change();
        let bytes = encode(&[BundleEntry {
            card_id: id,
            data: bomb,
        }]);
        let rss = crate::guard::craft::rss_bytes();
        let err = store.import_bundle(&bytes).expect_err("refused");
        assert_eq!(err.code(), "card.too_large");
        assert!(crate::guard::craft::rss_bytes().saturating_sub(rss) < 100 << 20);
        assert_eq!(store.count().expect("count"), 0);
    }

    /// A bundle's document that is not a valid card (no root id, a skeleton part of the
    /// wrong type) is refused with `card.invalid`, and nothing of the bundle is imported.
    #[test]
    fn an_invalid_card_in_a_bundle_is_refused() {
        use automerge::transaction::Transactable;
        let (_dir, mut a) = store();
        let good_id = a
            .create(|c| {
                c.basic.name = Some("杭州西湖茶叶有限公司".into());
                Ok(())
            })
            .expect("create");
        let good = decode(&a.export_bundle(None).expect("export")).expect("decode");
        let mut bad = automerge::AutoCommit::load(&good[0].data).expect("load");
        bad.put_object(automerge::ROOT, "visits", automerge::ObjType::Map)
            .expect("put");
        bad.commit();
        let mut no_id = automerge::AutoCommit::new();
        no_id.put(automerge::ROOT, "name", "x").expect("put");
        no_id.commit();
        let other = uuid::Uuid::new_v4().to_string();
        for data in [bad.save(), no_id.save()] {
            let (_d, mut b) = store();
            let entries = vec![
                BundleEntry {
                    card_id: good_id.to_string(),
                    data: good[0].data.clone(),
                },
                BundleEntry {
                    card_id: if data.len() == good[0].data.len() {
                        good_id.to_string()
                    } else {
                        other.clone()
                    },
                    data,
                },
            ];
            let err = b.import_bundle(&encode(&entries)).expect_err("refused");
            assert_eq!(err.code(), "card.invalid");
            assert_eq!(b.count().expect("count"), 0);
        }
    }
}
