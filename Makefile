# Latchkey: the only entry points a person needs.
#   make run    install what is missing, build, open the app (mail goes to the outbox)
#   make test   install what is missing, then fmt, clippy, unit, integration and UI tests,
#               and the release .deb installed, run, upgraded and removed (test-dist)
#   make serve  the HTTP service on this computer (loopback, a SQLite file, mail as .eml files)
#   make dist   release installers (.deb, .rpm) under target/release/bundle/
#   make bench-server  the HTTP service under load: 1,000,000 accounts, two processes, login
#               throughput against argon2's limit, who-am-i latency, memory
#   make bench  the release build's targets: argon2 round trips through the window against bare
#               libargon2; start-up time, memory and .deb size against a blank Tauri window

SHELL := /bin/bash
CARGO ?= cargo

.PHONY: all deps run build serve test lint test-dist dist bench bench-startup bench-server icons clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	$(CARGO) build -p latchkey

run: build
	@if [ -z "$$DISPLAY" ] && [ -z "$$WAYLAND_DISPLAY" ]; then \
	  echo "No display found. Latchkey is a desktop app: run 'make run' in a graphical session" >&2; \
	  echo "(or try it headless: xvfb-run -a make run)." >&2; exit 1; fi
	./target/debug/latchkey

# Trying the service takes one command: no mail server needed (mail is written to the outbox
# folder, which the service allows only on loopback), the embedded SQLite default.
SERVE_OUTBOX ?= $(CURDIR)/target/serve-outbox
serve: deps
	@echo "latchkey-server on http://127.0.0.1:8080 (DATABASE_URL default: latchkey-server.db here); mail as .eml files in $(SERVE_OUTBOX)"
	LATCHKEY_OUTBOX="$(SERVE_OUTBOX)" $(CARGO) run --release -p latchkey-server

lint: deps
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

test: lint
	scripts/with-test-services.sh $(CARGO) test --workspace
	$(MAKE) test-dist

# Builds the release .deb, installs it, runs it, upgrades it and removes it.
test-dist: deps
	scripts/test-dist.sh

dist: deps
	scripts/dist.sh

# The performance targets, measured on release builds (not in `make test`: timings on a shared
# machine vary; the budgets live here, not in the tests).
bench: deps
	scripts/bench.sh

bench-startup: bench

bench-server: deps
	scripts/bench-server.sh

icons:
	scripts/make-icons.sh

clean:
	$(CARGO) clean
