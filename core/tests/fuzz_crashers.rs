//! Replays every input the fuzzers (fuzz/, `cargo +nightly fuzz`) found and that is
//! committed under `fuzz/artifacts/<target>/`, through the fuzz targets' own bodies
//! (`fieldbook_core::fuzzing`), so a fixed crash stays fixed in CI (which does not run the fuzzers). Also
//! replays a few hand-made seeds, so the test exercises the entry points even with no
//! crasher committed. See docs/FUZZING.md.

use std::path::Path;

use fieldbook_core::card::validate_card_doc;
use fieldbook_core::fuzzing::{automerge_bytes, bundle_decode, card_validator, wire_decode};
use fieldbook_core::guard::{BytesLimits, load_bounded};

const ID: &str = "3f2b9c1e-8a4d-4e2f-9b1a-0c6d5e4f3a21";

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
