# Flightdeck — see README.md. `make test` runs everything CI runs.
GO      ?= go
BIN     ?= flightdeck
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
CONFIG  ?= config.example.toml

.PHONY: build test run demo bench lint clean

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) .

test: lint
	$(GO) test -race -count=1 ./...

run: build
	./$(BIN) --config $(CONFIG)

demo: build
	./$(BIN) --config $(CONFIG)

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

lint:
	@unformatted=$$(gofmt -l .); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -f $(BIN)
