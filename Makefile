# One-command set-up: every target installs what it needs, and running it
# again installs nothing new.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMPS := .stamps
# fuse3 gives fusermount3; libfuse3-dev and pkg-config let pyfuse3 build;
# ffmpeg makes and probes the demo and benchmark videos.
APT_PACKAGES := fuse3 libfuse3-dev pkg-config ffmpeg
# The benchmark's yardstick btfs, and `ip` for its private network namespace.
BENCH_APT_PACKAGES := btfs iproute2
BENCH_TOOLS := .bench-tools

.PHONY: all deps demo test lint unit bench clean

all: test

$(STAMPS)/apt:
	@mkdir -p $(STAMPS)
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages: $$missing"; \
		apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing </dev/null; \
	fi
	@touch $@

$(STAMPS)/bench-tools: $(STAMPS)/apt
	@missing=$$(for p in $(BENCH_APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing </dev/null; \
	fi
	@if command -v npm >/dev/null; then \
		npm install --prefix $(BENCH_TOOLS) --ignore-scripts --no-audit --no-fund -q \
			webtorrent-cli@4 </dev/null; \
	else echo "npm not found: the benchmark runs without webtorrent-cli"; fi
	@touch $@

$(STAMPS)/venv: pyproject.toml $(STAMPS)/apt
	@mkdir -p $(STAMPS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@

deps: $(STAMPS)/venv

lint: deps
	$(BIN)/ruff check torrentfs tests
	$(BIN)/ruff format --check torrentfs tests
	$(BIN)/mypy

unit: deps
	$(BIN)/pytest -m 'not mount'

test: lint
	$(BIN)/pytest

demo: deps
	$(BIN)/torrentfs demo

bench: deps $(STAMPS)/bench-tools
	$(BIN)/python -m torrentfs.bench

clean:
	rm -rf $(VENV) $(STAMPS) .mypy_cache .ruff_cache .pytest_cache .hypothesis
