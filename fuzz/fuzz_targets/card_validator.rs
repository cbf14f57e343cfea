//! The card validator on documents built from the input: each pair of bytes puts a root
//! key (from the skeleton's and a few others) to a value or object of a chosen type, on
//! top of a valid skeleton or an empty document, then the validator runs. Also runs it on
//! the input loaded as Automerge bytes (bounded).
#![no_main]
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjType, ROOT};
use fieldbook_core::card::{validate_card_doc, write_skeleton};
use fieldbook_core::guard::{BytesLimits, load_bounded};
use libfuzzer_sys::fuzz_target;

const ID: &str = "3f2b9c1e-8a4d-4e2f-9b1a-0c6d5e4f3a21";
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

fuzz_target!(|data: &[u8]| {
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
});
