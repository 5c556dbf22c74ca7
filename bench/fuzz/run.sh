#!/usr/bin/env bash
# Runs one libFuzzer target on its corpus.
#
#   bench/fuzz/run.sh TARGET [--runs N | --seconds S] [--seed N] [--jobs J] [-- LIBFUZZER_ARGS...]
#
# --jobs J runs J fuzzer processes on the same corpus, each doing --runs N
# (so J*N inputs in all); their logs are work/TARGET/fuzz-K.log.
#
# The committed seeds (corpus/TARGET) and regression inputs
# (regressions/TARGET) are copied into bench/fuzz/work/TARGET/corpus (not
# committed), where the fuzzer adds what it finds. Crashes, leaks, timeouts and OOMs are written to
# bench/fuzz/work/TARGET/artifacts and make the run exit non-zero.
#
# Every run counts a hang (-timeout=10 s per input) and an unbounded
# allocation (-malloc_limit_mb=512 for one allocation, -rss_limit_mb=2048 for
# the process) as failures. The fuzzer runs at nice 19: the machine is shared.
# Builds the target first when its binary is missing (build.sh).
set -euo pipefail
FUZZ_DIR="$(cd "$(dirname "$0")" && pwd)"
usage() { echo "usage: $0 TARGET [--runs N | --seconds S] [--seed N] [--jobs J] [-- LIBFUZZER_ARGS...]" >&2; exit 2; }
(($#)) || usage
TARGET=$1; shift
LIMIT=(-runs=100000)
EXTRA=()
while (($#)); do
  case $1 in
    --runs) LIMIT=(-runs="$2"); shift 2 ;;
    --seconds) LIMIT=(-max_total_time="$2"); shift 2 ;;
    --seed) EXTRA+=(-seed="$2"); shift 2 ;;
    --jobs) EXTRA+=(-jobs="$2" -workers="$2"); shift 2 ;;
    --) shift; EXTRA+=("$@"); break ;;
    *) usage ;;
  esac
done

case $TARGET in
  qcow2-header)     TARGET_ARGS=(-max_len=4096) ;;
  qcow2-image)      TARGET_ARGS=(-max_len=16384) ;;
  qcow2-stream)     TARGET_ARGS=(-max_len=16384) ;;
  jsonrpc-reader)   TARGET_ARGS=(-max_len=8192 -dict="$FUZZ_DIR/dict/json.dict") ;;
  jsonrpc-dispatch) TARGET_ARGS=(-max_len=8192 -dict="$FUZZ_DIR/dict/jsonrpc.dict") ;;
  *) echo "run.sh: unknown target $TARGET" >&2; usage ;;
esac

BINARY="$FUZZ_DIR/build/$TARGET"
[[ -x $BINARY ]] || "$FUZZ_DIR/build.sh" "$TARGET"
WORK="${FUZZ_WORK:-$FUZZ_DIR/work}/$TARGET"
mkdir -p "$WORK/corpus" "$WORK/artifacts" "$FUZZ_DIR/corpus/$TARGET" "$FUZZ_DIR/regressions/$TARGET"

# Swift's runtime keeps metadata caches for the life of the process: not leaks.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:allocator_may_return_null=0:handle_abort=1}"
# Swift's own crash backtracer fights ASan for the signal; libFuzzer reports instead.
export SWIFT_BACKTRACE="${SWIFT_BACKTRACE:-enable=no}"
# The plugin logs to stderr; keep only errors so libFuzzer's report stays readable.
export PLAKAR_SCALEWAY_LOG="${PLAKAR_SCALEWAY_LOG:-error}"
# The fuzzer gets a private copy of the seeds and regression inputs: in
# -jobs mode libFuzzer also writes into the other corpus directories given.
SEEDS=$TARGET
[[ $TARGET == qcow2-stream ]] && SEEDS=qcow2-image  # the same whole images
cp -n "$FUZZ_DIR/corpus/$SEEDS"/* "$FUZZ_DIR/regressions/$TARGET"/* "$WORK/corpus/" 2>/dev/null || true
cd "$WORK"
exec nice -n 19 "$BINARY" "${LIMIT[@]}" "${TARGET_ARGS[@]}" \
  -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=512 -print_final_stats=1 \
  -artifact_prefix="$WORK/artifacts/" "${EXTRA[@]}" "$WORK/corpus"
