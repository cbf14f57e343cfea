//! See `fieldbook_core::fuzzing::import_csv` (shared with core/tests/transfer_fuzz_replay.rs).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    fieldbook_fuzz::quiet_caught_panics();
    fieldbook_core::fuzzing::import_csv(data);
});
