# SpeedData: `make demo` runs the system, `make test` runs the tests. Both install what is missing.
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

.PHONY: all deps relay demo test test-c test-py test-relay-asan bench fuzz lint clean
all: relay

$(STAMP)/deb: Makefile
	@mkdir -p $(STAMP)
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi
	@touch $@

$(STAMP)/venv: pyproject.toml
	@mkdir -p $(STAMP)
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $@

deps: $(STAMP)/deb $(STAMP)/venv

relay: $(STAMP)/deb
	$(MAKE) -C native/zmq_relay

demo: deps relay
	$(PY) -m speeddata up --demo

test: deps relay
	$(MAKE) -C native/zmq_relay test asan
	$(PY) -m pytest -q
	$(MAKE) test-relay-asan

# The relay's integration tests once more, against the ASan/UBSan relay (about 30 s).
test-relay-asan: deps
	$(MAKE) -C native/zmq_relay asan-relay
	SPEEDDATA_TEST_RELAY=$(CURDIR)/$(ASAN_RELAY) $(SANITIZE) $(PY) -m pytest -q tests/test_relay_*.py

bench: deps relay
	$(PY) -m bench

# A bounded libFuzzer campaign on the relay's validator and schema compiler (FUZZ_SECONDS per
# harness, default 90); installs clang and libFuzzer first when missing (only `make fuzz` needs
# them: `make test` replays the corpus with gcc).
fuzz: $(STAMP)/deb
	@command -v clang >/dev/null || { echo "installing clang"; apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang; }
	@v=$$(clang -dumpversion | cut -d. -f1); dpkg -s libfuzzer-$$v-dev libclang-rt-$$v-dev \
	  >/dev/null 2>&1 || { echo "installing libFuzzer $$v"; apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libfuzzer-$$v-dev libclang-rt-$$v-dev; }
	$(MAKE) -C native/zmq_relay fuzz

lint: deps
	$(VENV)/bin/ruff check speeddata services tests bench examples
	$(VENV)/bin/ruff format --check speeddata services tests bench examples
	$(VENV)/bin/mypy

clean:
	$(MAKE) -C native/zmq_relay clean
	rm -rf $(STAMP) bench/build
