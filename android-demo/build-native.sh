#!/usr/bin/env bash
# Builds libfieldbook_ffi.so for the app's ABIs with cargo-ndk into app/src/main/jniLibs.
#
# Needs: the Android NDK r28+ (ANDROID_NDK_HOME, or ANDROID_HOME/ndk/<version>; the same
# version as app/build.gradle.kts's ndkVersion), `cargo install cargo-ndk`, and
#   rustup target add aarch64-linux-android armv7-linux-androideabi x86_64-linux-android
#
# The Kotlin bindings are not copied: the shared module compiles them where
# scripts/bindings writes them (ffi/bindings/kotlin, see shared/build.gradle.kts), so
# they always match the library built here. The script checks they are current.
#
#   android-demo/build-native.sh            `mobile` profile build (what the app ships)
#   android-demo/build-native.sh --debug    debug build (faster, larger)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"

# `mobile`: the workspace profile for what a phone ships (LTO, one codegen unit, stripped).
profile=(--profile mobile)
[[ "${1:-}" == "--debug" ]] && profile=()

if [[ -z "${ANDROID_NDK_HOME:-}" && -n "${ANDROID_HOME:-}" && -d "$ANDROID_HOME/ndk" ]]; then
  # The newest NDK installed by the SDK manager.
  ANDROID_NDK_HOME="$(ls -d "$ANDROID_HOME"/ndk/* | sort -V | tail -1)"
  export ANDROID_NDK_HOME
fi
: "${ANDROID_NDK_HOME:?set ANDROID_NDK_HOME (NDK r28 or newer)}"
ndk_major="$(sed -n 's/^Pkg.Revision *= *\([0-9]*\).*/\1/p' "$ANDROID_NDK_HOME/source.properties")"
if (( ndk_major < 28 )); then
  echo "NDK r$ndk_major found; r28+ is needed for 16 KB page alignment" >&2
  exit 1
fi

cd "$root"
# --platform 24: the app's minSdk; the libraries link against that API level.
cargo ndk -t arm64-v8a -t armeabi-v7a -t x86_64 --platform 24 \
  -o "$here/app/src/main/jniLibs" build "${profile[@]}" -p fieldbook-ffi

# The bindings the app compiles must be those of the library just built.
scripts/bindings --check

ls -l "$here"/app/src/main/jniLibs/*/libfieldbook_ffi.so
