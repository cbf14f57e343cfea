//! The wire decoder, as the server and the device run it on a body from the network.
#![no_main]
use fieldbook_core::sync::wire::{
    self, FallbackRequest, FallbackResponse, SyncRequest, SyncResponse,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let max = 1 << 20;
    let _ = wire::decode::<SyncRequest>(data, max);
    let _ = wire::decode::<SyncResponse>(data, max);
    let _ = wire::decode::<FallbackRequest>(data, max);
    let _ = wire::decode::<FallbackResponse>(data, max);
});
