# SpeedData: `make demo` runs the system, `make test` runs the tests. Both install what is missing.
# `make help` lists the targets: the first clause of the comment right above a target's rule.
SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
STAMP := .stamps
RELAY := native/zmq_relay/build/zmq_relay
ASAN_RELAY := native/zmq_relay/build/asan/zmq_relay
# A sanitizer report stops the relay (exit non-zero) and, found on its stderr, fails the test.
SANITIZE := ASAN_OPTIONS=halt_on_error=1:detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

# Debian packages: libzmq and jansson for the relay, avro-c's tools (avrocat) as an independent
# reader in tests, socat as a benchmark baseline, linux-perf for CPU counters in benchmarks,
# postgresql for the registry's tests against a real PostgreSQL (the fixture starts its own).
DEB_PACKAGES := build-essential pkg-config libzmq3-dev libjansson-dev avro-bin socat postgresql
# chromium: the registry page's test drives it with Playwright (PyPI, in .[dev]); never
# `playwright install`, which would download a browser build of its own.
DEB_PACKAGES += chromium
# docker.io, docker-compose, debootstrap: the compose test runs its own Docker daemon, builds a
# Debian base image with debootstrap and the project's image on it, and runs compose.yaml.
DEB_PACKAGES += docker.io docker-compose debootstrap
# apt-get runs as root: through sudo when make does not run as root.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
# Where `make install` puts sdctl and zmq_relay: the checkout's venv, or a venv made at PREFIX.
PREFIX ?= $(VENV)

.PHONY: all help deps relay wheelhouse install demo test test-c test-py test-relay-asan bench fuzz lint clean
# Build the relay (the default target).
all: relay

# This list: every target with one line.
help:
	@awk '/^# / { doc = doc (doc == "" ? "" : " ") substr($$0, 3); next } \
	      /^[a-z][a-z-]*:/ && doc != "" { split($$0, t, ":"); sub(/(; |\. ).*/, "", doc); \
	        sub(/\.$$/, "", doc); printf "  %-16s %s\n", t[1], doc } \
	      { doc = "" }' $(firstword $(MAKEFILE_LIST))

$(STAMP)/deb: Makefile
	@mkdir -p $(STAMP)
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages: $$missing"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi
	@touch $@

$(STAMP)/venv: pyproject.toml
	@mkdir -p $(STAMP)
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $@

# The pages' browser libraries (uPlot) from the npm registry into node_modules/, exactly as
# package-lock.json says; the stripchart gateway serves them. npm: Debian's, when none is there.
$(STAMP)/npm: package.json package-lock.json
	@mkdir -p $(STAMP)
	@command -v npm >/dev/null || { echo "installing npm"; $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm; }
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Install what is missing: the Debian packages (apt-get, via sudo unless root), .venv and the
# pages' npm packages (node_modules/).
deps: $(STAMP)/deb $(STAMP)/venv $(STAMP)/npm

# Build the relay, native/zmq_relay/build/zmq_relay.
relay: $(STAMP)/deb
	$(MAKE) -C native/zmq_relay

# Wheels of the Python dependencies in wheelhouse/, so `docker build` needs no package index.
wheelhouse: $(STAMP)/wheelhouse

$(STAMP)/wheelhouse: pyproject.toml $(STAMP)/venv
	$(PY) -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' > $(STAMP)/requirements.txt
	$(PY) -m pip wheel -q --wheel-dir wheelhouse -r $(STAMP)/requirements.txt
	@touch $@

# Install sdctl and zmq_relay in .venv/bin, or in DIR/bin with PREFIX=DIR (a venv made there).
install: deps relay
	@test -x $(PREFIX)/bin/python || python3 -m venv $(PREFIX)
	$(if $(filter $(VENV),$(PREFIX)),,$(PREFIX)/bin/python -m pip install -q --upgrade pip)
	$(if $(filter $(VENV),$(PREFIX)),,$(PREFIX)/bin/python -m pip install -q -e .)
	install -m 755 $(RELAY) $(PREFIX)/bin/zmq_relay
	@echo "installed $(PREFIX)/bin/sdctl and $(PREFIX)/bin/zmq_relay"

# Run everything with the demo channels fed (Ctrl-C stops it).
demo: deps relay
	$(PY) -m speeddata up --demo

# The relay's C unit tests, plain and under ASan/UBSan.
test-c: relay
	$(MAKE) -C native/zmq_relay test asan

# The Python tests (they start the real relay and services).
test-py: deps relay
	$(PY) -m pytest -q

# Every test: C, Python, and the relay's integration tests under ASan/UBSan.
test: deps relay
	$(MAKE) -C native/zmq_relay test asan
	$(PY) -m pytest -q
	$(MAKE) test-relay-asan

# The relay's integration tests once more, against the ASan/UBSan relay (about 30 s).
test-relay-asan: deps
	$(MAKE) -C native/zmq_relay asan-relay
	SPEEDDATA_TEST_RELAY=$(CURDIR)/$(ASAN_RELAY) $(SANITIZE) $(PY) -m pytest -q tests/test_relay_*.py

# The benchmarks (15+ minutes, wants a quiet machine); they write docs/benchmarks.md.
bench: deps relay
	$(PY) -m bench

# A bounded libFuzzer campaign on the relay's validator and schema compiler (FUZZ_SECONDS per
# harness, default 90); installs clang and libFuzzer first when missing (only `make fuzz` needs
# them: `make test` replays the corpus with gcc).
fuzz: $(STAMP)/deb
	@command -v clang >/dev/null || { echo "installing clang"; $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang; }
	@v=$$(clang -dumpversion | cut -d. -f1); dpkg -s libfuzzer-$$v-dev libclang-rt-$$v-dev \
	  >/dev/null 2>&1 || { echo "installing libFuzzer $$v"; $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	  libfuzzer-$$v-dev libclang-rt-$$v-dev; }
	$(MAKE) -C native/zmq_relay fuzz

# ruff, ruff format and mypy, as CI runs them.
lint: deps
	$(VENV)/bin/ruff check speeddata services tests bench examples
	$(VENV)/bin/ruff format --check speeddata services tests bench examples
	$(VENV)/bin/mypy

# Remove build outputs and install stamps (not .venv, not var/).
clean:
	$(MAKE) -C native/zmq_relay clean
	rm -rf $(STAMP) bench/build wheelhouse
