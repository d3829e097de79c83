# Quadrat — `make demo` trains on real data, `make test` runs the tests.
# Both install what is missing first (scripts/setup.sh; idempotent).

SWIFT ?= swift
QUADRAT_HOME ?= $(HOME)/.cache/quadrat
export QUADRAT_HOME

.PHONY: setup setup-test build release test lint demo bench fixtures clean

setup:
	scripts/setup.sh system weights data samples

setup-test:
	scripts/setup.sh system weights samples

build: setup-test
	$(SWIFT) build

release: setup-test
	$(SWIFT) build -c release

test: setup-test
	$(SWIFT) build
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --no-parallel

# House style: swift-format at 120 columns (.swift-format); fails on any finding.
lint:
	$(SWIFT) format lint --strict --recursive Sources Tests

demo: setup release
	.build/release/quadrat demo

bench: release
	.build/release/quadrat bench core

# Regenerates the test fixtures with PyTorch (Debian's python3-torch). CI never runs this.
fixtures:
	scripts/make_fixtures.sh

clean:
	rm -rf .build
