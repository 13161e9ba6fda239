# Clawgate: the two commands are `make run` and `make test`.
# Both install what they need on a fresh Debian 12 machine (apt packages, a
# Python virtualenv for the end-to-end tests) and are quick when it is there.
#
#   make run ARGS="--config clawgate.yaml"   build (release) and serve
#   make test                                 unit tests + end-to-end tests
#   make clean                                remove build products and the venv

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

# root needs no sudo; anyone else does.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Debian packages the Swift build links against.
APT_PKGS := libwebsockets-dev libcurl4-openssl-dev libjansson-dev pkg-config
# Debian packages the end-to-end tests need (python3-venv: Debian splits ensurepip out;
# chromium: the web page test drives it headless).
TEST_APT_PKGS := python3 python3-venv chromium

VENV := .venv
# Pinned by name; the stamp records the list so a change reinstalls.
PY_PKGS := pytest openai anthropic websockets websocat
PY_STAMP := $(VENV)/.clawgate-test-deps

SWIFT ?= swift
ARGS ?=

.PHONY: all deps build run test-deps test unit-test e2e-test clean

all: build

# Install any missing apt package in one apt-get call; nothing to do when all are there.
define apt_ensure
	missing=""; \
	for p in $(1); do \
	  dpkg-query -W -f='$${Status}' "$$p" 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "make: installing$$missing"; \
	  $(SUDO) apt-get update; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; \
	fi
endef

deps:
	@command -v $(SWIFT) >/dev/null || { echo "make: swift 6 toolchain not found on PATH (https://www.swift.org/install/linux/)"; exit 1; }
	@$(call apt_ensure,$(APT_PKGS))

build: deps
	$(SWIFT) build -c release --static-swift-stdlib

run: build
	exec "$$($(SWIFT) build -c release --static-swift-stdlib --show-bin-path)/clawgate" serve $(ARGS)

test-deps:
	@$(call apt_ensure,$(TEST_APT_PKGS))
	@if [ -x $(VENV)/bin/pytest ] && [ "$$(cat $(PY_STAMP) 2>/dev/null)" = "$(PY_PKGS)" ]; then \
	  exit 0; \
	fi; \
	rm -rf $(VENV); \
	python3 -m venv $(VENV); \
	$(VENV)/bin/pip install --quiet --disable-pip-version-check $(PY_PKGS); \
	echo "$(PY_PKGS)" > $(PY_STAMP)

unit-test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test

e2e-test: deps test-deps
	$(SWIFT) build
	$(VENV)/bin/pytest -q tests/e2e

# Builds everything (executables too), then runs both suites even when the
# unit tests fail, and fails if anything did.
test: deps test-deps
	@status=0; \
	if $(SWIFT) build --build-tests; then \
	  $(SWIFT) test || status=1; \
	  $(VENV)/bin/pytest -q tests/e2e || status=1; \
	else \
	  status=1; \
	fi; \
	if [ $$status != 0 ]; then echo "make test: FAILED"; fi; \
	exit $$status

clean:
	rm -rf .build $(VENV) .pytest_cache
	find tests -name __pycache__ -type d -prune -exec rm -rf {} +

# ---------------------------------------------------------------- benchmarks (issue 3)
# The performance budget, measured: see docs/performance.md and bench/README.md.
#
#   make bench                 every scenario, direct and via the gateway, 3 rounds (~10 min)
#   make bench PEER=litellm    also LiteLLM's proxy (throwaway venv from PyPI), same scenarios
#   make bench PEER=haproxy    also HAProxy (apt) as a third side of every round: a bare relay's cost
#   make bench-smoke           the same harness for seconds, HAProxy side included, no thresholds (CI)
#   make soak                  steady mixed load for SOAK_MINUTES (30); RSS and fds sampled
#
# Results go to bench-results/ (JSON + markdown, gitignored). All load is on 127.0.0.1.
BENCH_ARGS ?=
PEER ?=
SOAK_MINUTES ?= 30
BENCH_BIN = $$($(SWIFT) build -c release --static-swift-stdlib --show-bin-path)

.PHONY: bench bench-smoke soak bench-build

bench-build: deps
	$(SWIFT) build -c release --static-swift-stdlib

# HAProxy is the reference side (PEER=haproxy): Debian's package, only for the benchmarks.
bench: bench-build
	$(if $(findstring haproxy,$(PEER)),@$(call apt_ensure,haproxy))
	python3 bench/bench.py --bin-dir "$(BENCH_BIN)" $(if $(PEER),--peer $(PEER)) $(BENCH_ARGS)

# The smoke carries the HAProxy side too, so that code path cannot rot either.
bench-smoke: bench-build
	@$(call apt_ensure,haproxy)
	python3 bench/bench.py --quick --peer haproxy --bin-dir "$(BENCH_BIN)" $(BENCH_ARGS)

soak: bench-build
	python3 bench/soak.py --minutes $(SOAK_MINUTES) --bin-dir "$(BENCH_BIN)" $(BENCH_ARGS)
