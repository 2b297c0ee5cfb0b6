# Flightdeck — see README.md. `make test` runs everything CI runs.
GO      ?= go
BIN     ?= flightdeck
# The sandbox is a binary of its own, so flightdeck links none of it.
SANDBOX_BIN ?= flightdeck-sandbox
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
CONFIG  ?= config.example.toml

SANDBOX_DIR ?= $(or $(XDG_STATE_HOME),$(HOME)/.local/state)/flightdeck/sandbox

.PHONY: build sandbox-build test run demo bench lint clean deps sandbox-up sandbox-down k8s-binaries

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) .

sandbox-build:
	$(GO) build -o $(SANDBOX_BIN) ./sandbox/cmd/flightdeck-sandbox

# The system packages the build, the sandbox and the end-to-end tests need:
# a C compiler (the pre-flight links the Postgres parser through cgo),
# Debian's PostgreSQL server, tmux and git. Installed when missing and
# possible, otherwise the exact command is printed.
deps:
	@missing=""; \
	command -v cc >/dev/null || command -v gcc >/dev/null || missing="$$missing gcc libc6-dev"; \
	command -v git >/dev/null || missing="$$missing git"; \
	command -v tmux >/dev/null || missing="$$missing tmux"; \
	command -v psql >/dev/null || missing="$$missing postgresql-client"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "installing:$$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
		else \
			echo "missing:$$missing — run: sudo apt-get install$$missing"; exit 1; \
		fi; \
	fi

# Integration tests share one sandbox in its own directory; it is stopped at
# the end whatever the result, so no process outlives the run.
test: deps lint k8s-binaries
	@status=0; $(GO) test -race -count=1 -timeout 40m ./... || status=$$?; \
	$(GO) run ./sandbox/cmd/flightdeck-sandbox down --dir "$$($(GO) run ./sandbox/sandboxtest/dir)" >/dev/null 2>&1 || true; \
	exit $$status

run: build
	./$(BIN) --config $(CONFIG)

# The sandbox's Kubernetes binaries, built from source once and cached
# (about 5 minutes on 2 quiet cores, longer on a busy machine).
k8s-binaries:
	$(GO) run ./sandbox/k8s/cmd/k8s-sandbox build

# The cockpit on the local sandbox: up (or reused), then open.
demo: deps build sandbox-build k8s-binaries
	./$(SANDBOX_BIN) up --dir "$(SANDBOX_DIR)"
	./$(BIN) --config "$(SANDBOX_DIR)/flightdeck.toml" $(if $(SHARE),--share $(SHARE))

sandbox-up: deps sandbox-build
	./$(SANDBOX_BIN) up --dir "$(SANDBOX_DIR)"

sandbox-down: sandbox-build
	./$(SANDBOX_BIN) down --dir "$(SANDBOX_DIR)"

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

lint:
	@unformatted=$$(gofmt -l .); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	@$(GO) mod tidy -diff >/dev/null || { echo "go.mod/go.sum are not tidy: run go mod tidy"; $(GO) mod tidy -diff; exit 1; }

clean:
	rm -f $(BIN) $(SANDBOX_BIN)
