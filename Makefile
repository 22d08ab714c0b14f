# DemoForge — the two commands a newcomer needs: `make demo` and `make test`.
export PATH := /opt/swift/usr/bin:$(PATH)
SWIFT ?= swift
DEMO_DIR ?= demo-workspace

.PHONY: setup build test demo bench clean-demo

setup:
	@scripts/setup.sh

build: setup
	$(SWIFT) build

# Suites run one at a time (--no-parallel): several measure latency, descriptors and process groups of the
# whole test process, which parallel suites would disturb.
test: setup
	$(SWIFT) build --build-tests
	$(SWIFT) test --no-parallel
	tests/browser/run.sh

demo: build
	@scripts/demo.sh "$(DEMO_DIR)"

bench: setup
	$(SWIFT) build -c release --product demoforge-bench
	$(SWIFT) run -c release demoforge-bench --quick

clean-demo:
	rm -rf "$(DEMO_DIR)"
