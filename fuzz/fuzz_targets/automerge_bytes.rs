//! Automerge bytes as the server receives them: the bounded pre-check, then the load
//! (whole, and incremental into a document). The first byte chooses whether the harness
//! first rewrites every chunk's checksum to the right one, so the fuzzer gets past the
//! checksums into the chunk bodies (a forged SHA-256 prefix costs an attacker nothing).
#![no_main]
use automerge::Automerge;
use fieldbook_core::guard::{
    BytesLimits, check_automerge_bytes, load_bounded, load_incremental_bounded,
};
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};

/// Rewrites the checksum of each type 0/1 chunk whose header parses.
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
        let Some(end) = i.checked_add(len as usize).filter(|e| *e <= bytes.len()) else {
            return;
        };
        if kind <= 1 {
            let mut h = Sha256::new();
            h.update(&bytes[at + 8..end]);
            let sum = h.finalize();
            bytes[at + 4..at + 8].copy_from_slice(&sum[..4]);
        }
        at = end;
    }
}

fuzz_target!(|data: &[u8]| {
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
});
