# SpeedData: `make demo` runs the system, `make test` runs the tests. Both install what is missing.
SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
STAMP := .stamps
RELAY := native/zmq_relay/build/zmq_relay

# Debian packages: libzmq and jansson for the relay, avro-c's tools (avrocat) as an independent
# reader in tests, socat as a benchmark baseline, linux-perf for CPU counters in benchmarks.
DEB_PACKAGES := build-essential pkg-config libzmq3-dev libjansson-dev avro-bin socat

.PHONY: all deps relay demo test test-c test-py bench lint clean
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

bench: deps relay
	$(PY) -m bench

lint: deps
	$(VENV)/bin/ruff check speeddata services tests bench examples
	$(VENV)/bin/ruff format --check speeddata services tests bench examples
	$(VENV)/bin/mypy

clean:
	$(MAKE) -C native/zmq_relay clean
	rm -rf $(STAMP) bench/build
