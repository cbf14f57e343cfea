#!/usr/bin/env bash
# Builds the XCFramework of fieldbook-ffi for iOS devices and simulators, and the Swift
# bindings the package compiles. Runs on macOS with Xcode (xcodebuild, lipo) and:
#   rustup target add aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios
#
#   ios-demo/build-xcframework.sh
# Outputs: ios-demo/build/fieldbook_ffiFFI.xcframework and
#          ios-demo/Sources/FieldbookKit/Generated/FieldbookFFI.swift
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
build="$here/build"
cd "$root"

# Static libraries: an app links the library into its binary (no dylib to embed or sign).
for target in aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios; do
  # `mobile`: the workspace profile for what a phone ships (LTO, one codegen unit, stripped).
  cargo build --profile mobile -p fieldbook-ffi --target "$target"
done

rm -rf "$build"
mkdir -p "$build/sim" "$build/headers" "$build/swift"

# One simulator slice per architecture, joined: an XCFramework takes one library per
# platform variant, and Apple-silicon and Intel simulators are the same variant.
lipo -create \
  target/aarch64-apple-ios-sim/mobile/libfieldbook_ffi.a \
  target/x86_64-apple-ios/mobile/libfieldbook_ffi.a \
  -output "$build/sim/libfieldbook_ffi.a"

# The bindings from the library itself, by the uniffi-bindgen pinned to the
# workspace's uniffi (names from ffi/uniffi.toml: module FieldbookFFI, C module
# fieldbook_ffiFFI). Read from the host's dylib of the same sources: the interface is
# the same on every target, and library mode reads a dylib on every uniffi version.
cargo build --release -p fieldbook-ffi
cargo run -q -p uniffi-bindgen -- generate \
  target/release/libfieldbook_ffi.dylib --language swift \
  --out-dir "$build/swift"

cp "$build/swift/fieldbook_ffiFFI.h" "$build/headers/"
# Inside an XCFramework the module map must be called module.modulemap.
cp "$build/swift/fieldbook_ffiFFI.modulemap" "$build/headers/module.modulemap"

xcodebuild -create-xcframework \
  -library target/aarch64-apple-ios/mobile/libfieldbook_ffi.a -headers "$build/headers" \
  -library "$build/sim/libfieldbook_ffi.a" -headers "$build/headers" \
  -output "$build/fieldbook_ffiFFI.xcframework"

mkdir -p "$here/Sources/FieldbookKit/Generated"
cp "$build/swift/FieldbookFFI.swift" "$here/Sources/FieldbookKit/Generated/"

# What was generated must be what is committed (ffi/bindings/swift, checked in CI).
if ! diff -q "$build/swift/FieldbookFFI.swift" ffi/bindings/swift/FieldbookFFI.swift >/dev/null; then
  echo "warning: ffi/bindings/swift is stale; run scripts/bindings" >&2
fi
echo "built $build/fieldbook_ffiFFI.xcframework"
