//! See `fieldbook_core::fuzzing::card_validator` (shared with core/tests/fuzz_crashers.rs).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    fieldbook_fuzz::quiet_caught_panics();
    fieldbook_core::fuzzing::card_validator(data);
});
