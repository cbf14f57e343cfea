//! `cargo run -p uniffi-bindgen -- generate <library> --language kotlin --out-dir <dir>`:
//! uniffi's generator at exactly the workspace's uniffi version (bindings and scaffolding
//! must come from the same one). `scripts/bindings` is the one way to run it.

fn main() {
    uniffi::uniffi_bindgen_main()
}
