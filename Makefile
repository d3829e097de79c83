# Quadrat — `make demo` trains on real data, `make test` runs the tests.
# Both install what is missing first (scripts/setup.sh; idempotent).

SWIFT ?= swift
QUADRAT_HOME ?= $(HOME)/.cache/quadrat
export QUADRAT_HOME

.PHONY: setup setup-test build release test test-libtorch2 gpu-check lint demo bench fixtures fuzz fuzz-smoke clean

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

# The whole suite built against libtorch 2 (PyPI's CUDA build, run on the CPU): scripts/libtorch2.sh.
test-libtorch2: setup-test
	scripts/libtorch2.sh

# On a machine with an NVIDIA GPU: the suite on the GPU, the demo against the fastai peer there, and training rates
# against PyTorch's own (scripts/gpu_check.sh).
gpu-check: setup-test
	scripts/gpu_check.sh

# House style: swift-format at 120 columns (.swift-format); fails on any finding.
lint:
	$(SWIFT) format lint --strict --recursive Sources Tests Fuzz Package.swift

demo: setup release
	.build/release/quadrat demo

bench: release
	.build/release/quadrat bench core

# libFuzzer + address sanitizer on every reader of user files (scripts/fuzz.sh; FUZZ_SECONDS per harness).
FUZZ_SECONDS ?= 60
fuzz: setup-test
	scripts/fuzz.sh $(FUZZ_SECONDS)

# CI: the harnesses build, the seed corpora pass, 2000 mutations from a fixed seed each (repeatable).
fuzz-smoke: setup-test
	scripts/fuzz.sh smoke

# Regenerates the test fixtures with PyTorch (Debian's python3-torch). CI never runs this.
fixtures:
	scripts/make_fixtures.sh

clean:
	rm -rf .build
