# plakar-scaleway: the two entry points are `make demo` and `make test`.
SWIFT ?= swift
export PATH := /opt/swift/usr/bin:$(PATH)

.PHONY: setup build release test test-fast sanitizers bench-client fuzz demo clean

setup:
	@bash .ci/setup

build: setup
	$(SWIFT) build

release: setup
	$(SWIFT) build -c release

## The whole test suite (what CI runs): a short seeded fuzz run of every
## libFuzzer target on its committed corpus, then every Swift test suite,
## heavyweight cases included (PLAKAR_SCALEWAY_HEAVY=1: GiB transfers,
## awscli/rclone interop, raw digests of the demo volumes, stalled
## downloads). ThroughputBenchmark and HTTPLoadTests/throughput are benchmarks: they measure
## process RSS, which the suites running beside them in the same process
## inflate, so they run alone through `make bench-client`. Last, the engine,
## plugin, QCOW2 and client suites again under AddressSanitizer (+LeakSanitizer)
## and ThreadSanitizer (.ci/sanitizers, about 6 more minutes on 2 idle cores).
test: setup
	$(SWIFT) build --build-tests
	bash bench/fuzz/ci.sh
	PLAKAR_SCALEWAY_HEAVY=1 $(SWIFT) test --skip-build --skip ThroughputBenchmark --skip "HTTPLoadTests/throughput"
	bash .ci/sanitizers

## The sanitizer step of `make test` alone: AddressSanitizer (+LeakSanitizer) and ThreadSanitizer
## over the engine, plugin, QCOW2 and client suites, failing on any sanitizer report.
sanitizers: setup
	bash .ci/sanitizers

## Fast inner loop: the suites without the heavyweight cases.
test-fast: setup
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

## ScalewayKit's transfer benchmark (4 GiB with PLAKAR_SCALEWAY_BENCH_BYTES=4294967296).
bench-client: setup
	$(SWIFT) build --build-tests
	PLAKAR_SCALEWAY_HEAVY=1 $(SWIFT) test --skip-build --filter "ThroughputBenchmark|HTTPLoadTests/throughput"

## Fuzzing only (the dedicated million-input runs are bench/fuzz/run.sh).
fuzz: setup
	bash bench/fuzz/ci.sh

## The main job: full backup and restore round trip on the local simulator.
demo: setup
	@bash .ci/demo

clean:
	rm -rf .build
