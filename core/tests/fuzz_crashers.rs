//! Replays every input the fuzzers (fuzz/, `cargo +nightly fuzz`) found and that is
//! committed under `fuzz/artifacts/<target>/`, through the same entry points as the fuzz
//! targets, so a fixed crash stays fixed in CI (which does not run the fuzzers). Also
//! replays a few hand-made seeds, so the test exercises the entry points even with no
//! crasher committed. See docs/FUZZING.md.

use std::path::Path;

use automerge::Automerge;
use fieldbook_core::card::validate_card_doc;
use fieldbook_core::guard::{
    BytesLimits, check_automerge_bytes, load_bounded, load_incremental_bounded,
};
use fieldbook_core::store::decode_bundle;
use fieldbook_core::sync::wire::{
    self, FallbackRequest, FallbackResponse, SyncRequest, SyncResponse,
};

const ID: &str = "3f2b9c1e-8a4d-4e2f-9b1a-0c6d5e4f3a21";

fn wire_decode(data: &[u8]) {
    let max = 1 << 20;
    let _ = wire::decode::<SyncRequest>(data, max);
    let _ = wire::decode::<SyncResponse>(data, max);
    let _ = wire::decode::<FallbackRequest>(data, max);
    let _ = wire::decode::<FallbackResponse>(data, max);
}

fn bundle_decode(data: &[u8]) {
    if let Ok(entries) = decode_bundle(data) {
        for e in entries {
            if let Ok(doc) = load_bounded(&e.data, &BytesLimits::CARD) {
                let _ = validate_card_doc(&doc, &e.card_id);
            }
        }
    }
}

/// The fuzz target's checksum fix-up (fuzz/fuzz_targets/automerge_bytes.rs), so a
/// crasher replays exactly as it was found.
fn fix_checksums(bytes: &mut [u8]) {
    use sha2::{Digest, Sha256};
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
        let Some(end) = i.checked_add(len as usize).filter(|e| *e <= bytes.len()) else {
            return;
        };
        if kind <= 1 {
            let sum = Sha256::digest(&bytes[at + 8..end]);
            bytes[at + 4..at + 8].copy_from_slice(&sum[..4]);
        }
        at = end;
    }
}

fn automerge_bytes(data: &[u8]) {
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

fn card_validator(data: &[u8]) {
    if let Ok(doc) = load_bounded(data, &BytesLimits::CARD) {
        let _ = validate_card_doc(&doc, ID);
    }
}

fn replay(target: &str, run: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/artifacts")
        .join(target);
    let mut n = 0;
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path
                .file_name()
                .is_some_and(|f| f.to_string_lossy().starts_with('.'))
            {
                continue;
            }
            let data = std::fs::read(&path).expect("read crasher");
            run(&data);
            n += 1;
        }
    }
    n
}

#[test]
fn committed_crashers_no_longer_crash() {
    let mut replayed = 0;
    replayed += replay("wire_decode", wire_decode);
    replayed += replay("bundle_decode", bundle_decode);
    replayed += replay("automerge_bytes", automerge_bytes);
    replayed += replay("card_validator", card_validator);
    // Seeds through every entry point: empty, garbage, a real card in every form.
    let mut doc = automerge::AutoCommit::new();
    fieldbook_core::card::write_skeleton(&mut doc, &ID.parse().expect("id"), Some("华东区"))
        .expect("skeleton");
    doc.commit();
    let saved = doc.save();
    let bundle = fieldbook_core::store::encode_bundle(&[fieldbook_core::store::BundleEntry {
        card_id: ID.into(),
        data: saved.clone(),
    }]);
    for seed in [&b""[..], b"\x85\x6f\x4a\x83garbage", &saved, &bundle] {
        wire_decode(seed);
        bundle_decode(seed);
        automerge_bytes(&[&[0u8][..], seed].concat());
        card_validator(seed);
    }
    let loaded = load_bounded(&saved, &BytesLimits::CARD).expect("a real card loads");
    validate_card_doc(&loaded, ID).expect("and is valid");
    assert!(replayed >= 1, "the committed crashers are found");
    eprintln!("replayed {replayed} committed crashers");
}
