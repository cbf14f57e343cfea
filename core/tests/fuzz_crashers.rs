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

/// As the fuzz target, without its checksum fix-up (a committed crasher is stored as the
/// bytes the entry points saw: the fix-up's output is what gets replayed when it matters,
/// and replaying both the raw and the fixed form would need the fix-up here too).
fn automerge_bytes(data: &[u8]) {
    let Some((_, bytes)) = data.split_first() else {
        return;
    };
    let limits = BytesLimits::CARD;
    if check_automerge_bytes(bytes, &limits).is_ok() {
        let _ = load_bounded(bytes, &limits);
        let mut doc = Automerge::new();
        let _ = load_incremental_bounded(&mut doc, bytes, &limits);
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
    eprintln!("replayed {replayed} committed crashers");
}
