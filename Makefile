# plakar-scaleway: the two entry points are `make demo` and `make test`.
SWIFT ?= swift
export PATH := /opt/swift/usr/bin:$(PATH)

.PHONY: setup build release test demo clean

setup:
	@bash .ci/setup

build: setup
	$(SWIFT) build

release: setup
	$(SWIFT) build -c release

## The whole test suite (what CI runs).
test: setup
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

## The main job: full backup and restore round trip on the local simulator.
demo: setup
	@bash .ci/demo

clean:
	rm -rf .build
