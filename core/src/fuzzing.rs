//! The fuzz targets' bodies, one function per target, so that `fuzz/` (libFuzzer,
//! nightly) and `core/tests/fuzz_crashers.rs` (stable, in CI) drive the decoders
//! through exactly the same code: a crasher replays as it was found. Not part of the
//! product's API; see docs/FUZZING.md.
//!
//! Each function takes the fuzzer's raw input and must never panic: a panic, an abort or
//! an allocation past libFuzzer's RSS limit is a finding.

use automerge::transaction::Transactable;
use automerge::{AutoCommit, Automerge, ObjType, ROOT};
use sha2::{Digest, Sha256};

use crate::card::{validate_card_doc, write_skeleton};
use crate::guard::{BytesLimits, check_automerge_bytes, load_bounded, load_incremental_bounded};
use crate::store::decode_bundle;
use crate::sync::wire::{self, FallbackRequest, FallbackResponse, SyncRequest, SyncResponse};

/// The card id the targets validate against.
const ID: &str = "3f2b9c1e-8a4d-4e2f-9b1a-0c6d5e4f3a21";

/// `sync::wire::decode` of every message type, with the server's 1 MiB cap.
pub fn wire_decode(data: &[u8]) {
    let max = 1 << 20;
    let _ = wire::decode::<SyncRequest>(data, max);
    let _ = wire::decode::<SyncResponse>(data, max);
    let _ = wire::decode::<FallbackRequest>(data, max);
    let _ = wire::decode::<FallbackResponse>(data, max);
}

/// The bundle decoder, then what import does with each entry: the bounded load and the
/// card validator.
pub fn bundle_decode(data: &[u8]) {
    if let Ok(entries) = decode_bundle(data) {
        for e in entries {
            if let Ok(doc) = load_bounded(&e.data, &BytesLimits::CARD) {
                let _ = validate_card_doc(&doc, &e.card_id);
            }
        }
    }
}

/// Automerge bytes as the server receives them: the bounded pre-check, then the load
/// (whole, and incremental into a document). If the first byte is odd, every chunk's
/// checksum is first rewritten to the right one, so the fuzzer gets past the checksums
/// into the chunk bodies (forging a SHA-256 prefix costs an attacker nothing).
pub fn automerge_bytes(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut bytes = rest.to_vec();
    if mode & 1 == 1 {
        fix_checksums(&mut bytes);
    }
    let limits = BytesLimits::CARD;
    if check_automerge_bytes(&bytes, &limits).is_ok() {
        let _ = load_bounded(&bytes, &limits);
        let mut doc = Automerge::new();
        let _ = load_incremental_bounded(&mut doc, &bytes, &limits);
    }
}

/// Root keys the card validator target writes: the skeleton's and a few others.
const KEYS: &[&str] = &[
    "id",
    "schema",
    "territory",
    "basic",
    "credit",
    "contacts",
    "todos",
    "opportunities",
    "visits",
    "notes",
    "sales",
    "tags",
    "location",
    "name",
];

/// The card validator on the input loaded as bounded Automerge bytes, and on a document
/// built from the input: each pair of bytes puts a root key to a value or object of a
/// chosen type, on top of a valid skeleton (first byte odd) or an empty document.
pub fn card_validator(data: &[u8]) {
    if let Ok(doc) = load_bounded(data, &BytesLimits::CARD) {
        let _ = validate_card_doc(&doc, ID);
    }
    let Some((&start, ops)) = data.split_first() else {
        return;
    };
    let mut doc = AutoCommit::new();
    if start & 1 == 1 {
        let Ok(id) = ID.parse() else { return };
        if write_skeleton(&mut doc, &id, Some("华东区")).is_err() {
            return;
        }
    }
    for pair in ops.chunks(2).take(64) {
        let key = KEYS[pair[0] as usize % KEYS.len()];
        let what = pair.get(1).copied().unwrap_or(0);
        let _ = match what % 9 {
            0 => doc.delete(ROOT, key),
            1 => doc.put(ROOT, key, i64::from(what) - 100),
            2 => doc.put(ROOT, key, ID),
            3 => doc.put(ROOT, key, "card-1"),
            4 => doc.put_object(ROOT, key, ObjType::Map).map(|_| ()),
            5 => doc.put_object(ROOT, key, ObjType::List).map(|_| ()),
            6 => doc.put_object(ROOT, key, ObjType::Text).map(|_| ()),
            7 => doc.put(ROOT, key, u64::from(what)),
            _ => doc.put(ROOT, key, true),
        };
    }
    doc.commit();
    let _ = validate_card_doc(doc.document(), ID);
}

/// Rewrites the checksum of each change or document chunk whose header parses.
fn fix_checksums(bytes: &mut [u8]) {
    let mut at = 0;
    while at + 10 <= bytes.len() && bytes[at..at + 4] == [0x85, 0x6f, 0x4a, 0x83] {
        let kind = bytes[at + 8];
        let mut len: u64 = 0;
        let mut i = at + 9;
        let mut shift = 0;
        loop {
            let Some(&b) = bytes.get(i) else { return };
            i += 1;
            if shift > 56 {
                return;
            }
            len |= u64::from(b & 0x7f) << shift;
            shift += 7;
            if b & 0x80 == 0 {
                break;
            }
        }
        let Some(end) = usize::try_from(len)
            .ok()
            .and_then(|len| i.checked_add(len))
            .filter(|e| *e <= bytes.len())
        else {
            return;
        };
        if kind <= 1 {
            let sum = Sha256::digest(&bytes[at + 8..end]);
            bytes[at + 4..at + 8].copy_from_slice(&sum[..4]);
        }
        at = end;
    }
}

/// The CSV reader, then what an import does with the table: the mapping and every row
/// through the card model (no store).
#[cfg(feature = "transfer")]
pub fn import_csv(data: &[u8]) {
    use crate::transfer::{ImportOptions, Limits, read_csv, rows::prepare};
    if let Ok(table) = read_csv(data, &Limits::default()) {
        let _ = prepare(&table, &ImportOptions::default(), &[], &Default::default());
    }
}

/// The XLSX reader (zip checks, calamine, the cell stream) on the input, then the rows
/// through the card model. With the first byte odd, the rest is first wrapped as the
/// worksheet of an otherwise valid workbook, so the fuzzer reaches calamine's XML
/// parsing instead of stopping at the zip checks.
#[cfg(feature = "transfer")]
pub fn import_xlsx(data: &[u8]) {
    use crate::transfer::{ImportOptions, Limits, read_xlsx, rows::prepare};
    let limits = Limits {
        max_file_bytes: 4 << 20,
        max_inflated_bytes: 64 << 20,
        max_entry_bytes: 32 << 20,
        ..Limits::default()
    };
    let wrapped;
    let bytes = match data.split_first() {
        Some((mode, rest)) if mode & 1 == 1 => {
            wrapped = crate::transfer::fuzz_workbook(rest);
            &wrapped[..]
        }
        _ => data,
    };
    if let Ok(table) = read_xlsx(bytes, None, &limits) {
        let _ = prepare(&table, &ImportOptions::default(), &[], &Default::default());
    }
}
