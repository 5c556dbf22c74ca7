#!/usr/bin/env bash
# CI: a short, seeded, reproducible run of every fuzz target on the committed
# seeds and regression inputs. Exits non-zero on any crash, failed
# invariant, hang (> 10 s per input) or allocation over the limits.
# Skips (exit 0, with a message) only when the toolchain has no libFuzzer.
#
#   bench/fuzz/ci.sh            (FUZZ_CI_RUNS=N: N inputs for every target)
#
# Inputs per target: 20000 for the QCOW2 targets, 10000 for jsonrpc-reader,
# 4000 whole sessions for jsonrpc-dispatch (about a minute in all on two
# idle cores, a few minutes on a loaded machine).
set -uo pipefail
FUZZ_DIR="$(cd "$(dirname "$0")" && pwd)"
TARGETS=(qcow2-header qcow2-image qcow2-stream jsonrpc-reader jsonrpc-dispatch)

"$FUZZ_DIR/build.sh" "${TARGETS[@]}"
status=$?
if ((status == 3)); then
  echo "fuzz-ci: SKIPPED: the Swift toolchain has no libFuzzer runtime (libclang_rt.fuzzer)" >&2
  exit 0
elif ((status != 0)); then
  echo "fuzz-ci: FAILED: the fuzz targets do not build" >&2
  exit "$status"
fi

failed=()
for target in "${TARGETS[@]}"; do
  case $target in
    qcow2-*) runs=20000 ;;
    jsonrpc-reader) runs=10000 ;;
    jsonrpc-dispatch) runs=4000 ;;
  esac
  runs=${FUZZ_CI_RUNS:-$runs}
  log=$(mktemp)
  start=$SECONDS
  # A fresh working corpus each time: CI results depend on the commit only.
  rm -rf "$FUZZ_DIR/work/ci/$target"
  if FUZZ_WORK="$FUZZ_DIR/work/ci" "$FUZZ_DIR/run.sh" "$target" --runs "$runs" --seed 1 >"$log" 2>&1; then
    echo "fuzz-ci: $target: ok, $runs inputs in $((SECONDS - start)) s ($(grep -o 'corp: [0-9]*/[0-9a-zA-Z]*' "$log" | tail -1))" >&2
  else
    echo "fuzz-ci: $target: FAILED; the end of its log:" >&2
    grep -v '^"' "$log" | tail -60 >&2
    echo "fuzz-ci: the failing input is in $FUZZ_DIR/work/ci/$target/artifacts" >&2
    failed+=("$target")
  fi
  rm -f "$log"
done
if ((${#failed[@]})); then
  echo "fuzz-ci: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz-ci: all ${#TARGETS[@]} targets ok" >&2
