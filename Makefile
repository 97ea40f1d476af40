# posd: build, test, package. `make help` lists the targets.
GO        ?= go
PKG       := ./...
# Debian versions must start with a digit: v1.2.3 tags become 1.2.3; without a tag,
# 0.1.0+git<date>.<commit>.
VERSION   ?= $(shell v=$$(git describe --tags --match 'v[0-9]*' --dirty 2>/dev/null) && echo $${v\#v} || echo 0.1.0+git$$(git log -1 --format=%cd --date=format:%Y%m%d 2>/dev/null).$$(git rev-parse --short HEAD 2>/dev/null || echo unknown))
COMMIT    ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS   := -s -w -X 'main.Version=$(VERSION)' -X 'main.Commit=$(COMMIT)'
FUZZTIME  ?= 2m
# staticcheck from the module proxy, pinned. golangci-lint v2 (.golangci.yml: errcheck, gocyclo
# <= 30 besides) runs when installed; it takes too long to build to fetch on every run.
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
SOAK      ?= 100000
DIST      := dist

.PHONY: help build test lint bench fuzz soak deb demo clean

help:
	@echo "make build   build ./posd (cgo on: HID scanners need it)"
	@echo "make test    go test -race ./..."
	@echo "make lint    go vet, staticcheck, and golangci-lint (.golangci.yml) when installed"
	@echo "make bench   benchmarks + the 60 s idle CPU/RSS measurement"
	@echo "make fuzz    every Fuzz* target for FUZZTIME=$(FUZZTIME) each"
	@echo "make soak    every test with POSD_SOAK=$(SOAK) (property tests run SOAK/1000 times their CI checks)"
	@echo "make deb     $(DIST)/posd_<version>_<arch>.deb"
	@echo "make demo    run the whole till on embedded defaults (http://127.0.0.1:8080)"

build:
	CGO_ENABLED=1 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o posd ./cmd/posd

test:
	$(GO) test -race $(PKG)

lint:
	$(GO) vet $(PKG)
	$(STATICCHECK) $(PKG)
	@if command -v golangci-lint >/dev/null 2>&1; then golangci-lint run $(PKG); \
	else echo "golangci-lint v2 not installed: skipped (go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@latest)"; fi

bench:
	$(GO) test -run='^$$' -bench=. -benchmem $(PKG)
	POSD_IDLE_WINDOW=60s $(GO) test -count=1 -run '^TestE2E_Idle$$' -v ./cmd/posd

fuzz:
	@set -e; for pkg in $$($(GO) list $(PKG)); do \
		for f in $$($(GO) test -list 'Fuzz.*' $$pkg | grep '^Fuzz' || true); do \
			echo "== $$pkg $$f"; \
			$(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=$(FUZZTIME) $$pkg; \
		done; \
	done

soak:
	POSD_SOAK=$(SOAK) $(GO) test -count=1 -timeout 0 $(PKG)

deb: build
	bash systemd/mkdeb.sh ./posd "$(VERSION)" $(DIST)

demo:
	$(GO) run ./cmd/posd demo

clean:
	rm -rf posd $(DIST)
