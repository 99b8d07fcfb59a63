# One-command set-up: every target installs what it needs, and running it
# again installs nothing new.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMPS := .stamps
# fuse3 gives fusermount3; libfuse3-dev and pkg-config let pyfuse3 build;
# ffmpeg makes and probes the demo and benchmark videos; aria2, rtorrent and
# Transmission (with transmission-remote) are foreign seeders the tests
# stream from; iproute2 gives `ip netns` for the one (WebTorrent) that
# cannot be kept off the DHT; curl and rclone are HTTP and WebDAV clients
# the HTTP tests use, and chromium loads the page; gupnp-tools' gssdp-discover is
# the DLNA tests' SSDP control point.
APT_PACKAGES := fuse3 libfuse3-dev pkg-config ffmpeg aria2 rtorrent transmission-daemon \
	transmission-cli iproute2 curl rclone chromium gupnp-tools
# The benchmark's yardstick btfs, and its players and media server.
BENCH_APT_PACKAGES := btfs mpv vlc-bin vlc-plugin-base minidlna sqlite3
# npm tools (webtorrent-cli), kept outside the checkout so a fresh clone does
# not install them again; torrentfs_tools/foreign.py looks for them here.
TOOLS := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/torrentfs-tools

# Where `make install-service` puts the unit and the example config;
# install-user-service uses the user's systemd and config folders.
SYSTEM_UNIT_DIR := /etc/systemd/system
SYSTEM_CONFIG_DIR := /etc/torrentfs
USER_UNIT_DIR := $(or $(XDG_CONFIG_HOME),$(HOME)/.config)/systemd/user
USER_CONFIG_DIR := $(or $(XDG_CONFIG_HOME),$(HOME)/.config)/torrentfs
# The unit runs the torrentfs on PATH, else this checkout's.
TORRENTFS_BIN = $(or $(shell command -v torrentfs),$(CURDIR)/$(BIN)/torrentfs)

.PHONY: all deps demo test lint unit bench clean install-service install-user-service

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

$(STAMPS)/tools: $(STAMPS)/apt
	@if [ -x $(TOOLS)/node_modules/.bin/webtorrent ]; then :; \
	elif command -v npm >/dev/null; then \
		npm install --prefix $(TOOLS) --ignore-scripts --no-audit --no-fund -q \
			webtorrent-cli@4 </dev/null; \
	else echo "npm not found: the WebTorrent seeder test and bench column are skipped"; fi
	@touch $@

$(STAMPS)/bench-tools: $(STAMPS)/apt $(STAMPS)/tools
	@missing=$$(for p in $(BENCH_APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing </dev/null; \
	fi
	@touch $@

$(STAMPS)/venv: pyproject.toml $(STAMPS)/apt
	@mkdir -p $(STAMPS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@

deps: $(STAMPS)/venv

lint: deps
	$(BIN)/ruff check torrentfs torrentfs_tools tests
	$(BIN)/ruff format --check torrentfs torrentfs_tools tests
	$(BIN)/mypy
	$(BIN)/lint-imports

unit: deps
	$(BIN)/pytest -m 'not mount'

test: lint $(STAMPS)/tools
	$(BIN)/pytest --durations=15

demo: deps
	$(BIN)/python -m torrentfs_tools.demo

bench: deps $(STAMPS)/bench-tools
	$(BIN)/python -m torrentfs_tools.bench

install-service: deps
	$(call install_unit,$(SYSTEM_UNIT_DIR),$(SYSTEM_CONFIG_DIR))
	systemctl daemon-reload

install-user-service: deps
	$(call install_unit,$(USER_UNIT_DIR),$(USER_CONFIG_DIR))
	systemctl --user daemon-reload

# $(1): unit folder, $(2): config folder. Never overwrites an existing config.
define install_unit
	mkdir -p $(1) $(2)
	sed 's|/usr/local/bin/torrentfs|$(TORRENTFS_BIN)|' systemd/torrentfs@.service > $(1)/torrentfs@.service
	cp -n systemd/example.toml $(2)/example.toml
	@echo "installed $(1)/torrentfs@.service; copy $(2)/example.toml to $(2)/NAME.toml, edit it, then enable torrentfs@NAME"
endef

clean:
	rm -rf $(VENV) $(STAMPS) .mypy_cache .ruff_cache .pytest_cache .hypothesis
