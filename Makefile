# Latchkey: the only entry points a person needs.
#   make run    install what is missing, build, open the app (mail goes to the outbox)
#   make test   install what is missing, then fmt, clippy, unit, integration and UI tests
#   make dist   release installers (.deb, .rpm) under target/release/bundle/

SHELL := /bin/bash
CARGO ?= cargo

.PHONY: all deps run build test lint unit-and-integration dist icons clean

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

lint: deps
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

test: lint
	scripts/with-test-services.sh $(CARGO) test --workspace

dist: deps
	scripts/dist.sh

icons:
	scripts/make-icons.sh

clean:
	$(CARGO) clean
