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
//! applies completely or not at all.

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

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
}
