# plakar-scaleway: the two entry points are `make demo` and `make test`.
SWIFT ?= swift
export PATH := /opt/swift/usr/bin:$(PATH)

.PHONY: setup build release test fuzz demo clean

setup:
	@bash .ci/setup

build: setup
	$(SWIFT) build

release: setup
	$(SWIFT) build -c release

## The whole test suite (what CI runs): a short seeded fuzz run of every
## libFuzzer target on its committed corpus, then every Swift test suite.
## PLAKAR_SCALEWAY_HEAVY=1 adds the heavyweight cases (multi-GiB transfers,
## awscli/rclone interop, raw digests of the full demo volumes).
test: setup
	$(SWIFT) build --build-tests
	bash bench/fuzz/ci.sh
	$(SWIFT) test --skip-build

## Fuzzing only (the dedicated million-input runs are bench/fuzz/run.sh).
fuzz: setup
	bash bench/fuzz/ci.sh

## The main job: full backup and restore round trip on the local simulator.
demo: setup
	@bash .ci/demo

clean:
	rm -rf .build
