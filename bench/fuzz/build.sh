#!/usr/bin/env bash
# Builds the libFuzzer harnesses of bench/fuzz with swiftc (SwiftPM cannot
# build fuzzers): every module a harness needs is compiled as one object
# with coverage instrumentation (-sanitize=fuzzer) and AddressSanitizer,
# then linked with the harness, which exports LLVMFuzzerTestOneInput.
#
#   bench/fuzz/build.sh [TARGET...]      (default: every target)
#
# Targets: qcow2-header qcow2-image qcow2-stream jsonrpc-reader jsonrpc-dispatch.
# Output: bench/fuzz/build/<target>. Exits 3 when the toolchain has no
# libFuzzer runtime (ci.sh turns that into a skip).
set -euo pipefail
FUZZ_DIR="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$FUZZ_DIR/../.." && pwd)"
export PATH="/opt/swift/usr/bin:$PATH"
OUT="$FUZZ_DIR/build"
mkdir -p "$OUT/modules"

ALL_TARGETS=(qcow2-header qcow2-image qcow2-stream jsonrpc-reader jsonrpc-dispatch)
TARGETS=("$@")
((${#TARGETS[@]})) || TARGETS=("${ALL_TARGETS[@]}")

has_libfuzzer() {
  local resource
  resource="$(dirname "$(command -v swiftc)")/../lib/clang"
  compgen -G "$resource/*/lib/linux/libclang_rt.fuzzer-$(uname -m).a" >/dev/null \
    || compgen -G "$resource/*/lib/*/libclang_rt.fuzzer*.a" >/dev/null
}
if ! command -v swiftc >/dev/null || ! has_libfuzzer; then
  echo "build.sh: this Swift toolchain has no libFuzzer runtime (libclang_rt.fuzzer); cannot build fuzzers" >&2
  exit 3
fi

# Same language mode as Package.swift; -O because fuzzing is about throughput;
# -enable-testing so harnesses may reach internal API (@testable import).
SWIFT_FLAGS=(-O -swift-version 6 -sanitize=fuzzer,address -enable-testing -parse-as-library
             -g -use-ld=lld -I "$OUT/modules" -I "$ROOT/Sources/CZlib")

# build_module NAME [DEPENDENCY_OBJECT...]: compiles Sources/NAME/**/*.swift
# into modules/NAME.{o,swiftmodule}, unless it is newer than every source and
# every module it depends on.
build_module() {
  local name=$1 object="$OUT/modules/$1.o"; shift
  local sources
  mapfile -t sources < <(find "$ROOT/Sources/$name" -name '*.swift' | sort)
  if [[ -f $object ]] && [[ -z $(find "$ROOT/Sources/$name" "$FUZZ_DIR/build.sh" "$@" -newer "$object" -print -quit) ]]; then
    return
  fi
  echo "build.sh: compiling module $name (${#sources[@]} files)" >&2
  swiftc "${SWIFT_FLAGS[@]}" -wmo -module-name "$name" -c "${sources[@]}" -o "$object" \
    -emit-module -emit-module-path "$OUT/modules/$name.swiftmodule"
  touch "$object"  # swiftc leaves an unchanged output's old mtime
}

# link_harness TARGET MODULE... : harness sources + module objects -> build/TARGET
link_harness() {
  local target=$1; shift
  local objects=() module
  # Modules are listed dependencies first; each depends on those before it.
  for module in "$@"; do build_module "$module" "${objects[@]}"; objects+=("$OUT/modules/$module.o"); done
  local binary="$OUT/$target"
  if [[ -x $binary ]] && [[ -z $(find "$FUZZ_DIR/$target" "${objects[@]}" "$FUZZ_DIR/build.sh" -newer "$binary" -print -quit) ]]; then
    return
  fi
  echo "build.sh: linking $target" >&2
  swiftc "${SWIFT_FLAGS[@]}" -wmo -module-name "$(echo "$target" | tr -d -)Harness" \
    "$FUZZ_DIR/$target"/*.swift "${objects[@]}" -lz -o "$binary"
}

for target in "${TARGETS[@]}"; do
  case $target in
    qcow2-header|qcow2-image|qcow2-stream) link_harness "$target" QCOW2 ;;
    jsonrpc-reader)            link_harness "$target" Logging JSONRPC ;;
    jsonrpc-dispatch)          link_harness "$target" Logging JSONRPC PluginProtocol ;;
    *) echo "build.sh: unknown target $target (known: ${ALL_TARGETS[*]})" >&2; exit 2 ;;
  esac
done
