//! What the fuzz targets share.

use std::sync::Once;

/// Replaces libfuzzer-sys's panic hook (which aborts on *every* panic, even one the code
/// under test catches) with a silent one. `guard` catches a known panic inside automerge
/// 0.12 and turns it into `card.bad_bytes`; with the default hook the fuzzer would stop
/// there forever. A panic nobody catches still aborts: libfuzzer-sys wraps each run in
/// `catch_unwind` and aborts on an unwound panic, so it is still a finding.
pub fn quiet_caught_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| std::panic::set_hook(Box::new(|_| {})));
}
