//! The bundle decoder, then what import does with each entry: the bounded pre-check, the
//! load and the card validator.
#![no_main]
use fieldbook_core::card::validate_card_doc;
use fieldbook_core::guard::{BytesLimits, load_bounded};
use fieldbook_core::store::decode_bundle;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(entries) = decode_bundle(data) {
        for e in entries {
            if let Ok(doc) = load_bounded(&e.data, &BytesLimits::CARD) {
                let _ = validate_card_doc(&doc, &e.card_id);
            }
        }
    }
});
