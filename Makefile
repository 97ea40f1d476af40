# posd: build, test, package. `make help` lists the targets.
GO        ?= go
PKG       := ./...
# Debian versions must start with a digit: v1.2.3 tags become 1.2.3; without a tag,
# 0.1.0+git<date>.<commit>.
VERSION   ?= $(shell v=$$(git describe --tags --match 'v[0-9]*' --dirty 2>/dev/null) && echo $${v\#v} || echo 0.1.0+git$$(git log -1 --format=%cd --date=format:%Y%m%d 2>/dev/null).$$(git rev-parse --short HEAD 2>/dev/null || echo unknown))
COMMIT    ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
DIST      := dist
# PIE with full RELRO (Debian's hardening flags; lintian checks them in the package).
LDFLAGS   := -s -w -X 'main.Version=$(VERSION)' -X 'main.Commit=$(COMMIT)' -extldflags '-Wl,-z,relro,-z,now'
# ARCH=arm64 cross-compiles (cgo for HID scanners) with Debian's aarch64-linux-gnu-gcc
# (apt: gcc-aarch64-linux-gnu libc6-dev-arm64-cross). Go and Debian name amd64/arm64 alike.
HOSTARCH  := $(shell $(GO) env GOARCH)
ARCH      ?= $(HOSTARCH)
ifeq ($(ARCH),$(HOSTARCH))
BIN       := posd
CROSS_CC  ?= $(shell $(GO) env CC)
else
BIN       := $(DIST)/posd-$(ARCH)
CROSS_CC  ?= $(if $(filter arm64,$(ARCH)),aarch64-linux-gnu-gcc,$(ARCH)-linux-gnu-gcc)
endif
FUZZTIME  ?= 2m
# staticcheck from the module proxy, pinned. golangci-lint v2 (.golangci.yml: errcheck, gocyclo
# <= 30 besides) runs when installed; it takes too long to build to fetch on every run.
SOAK      ?= 100000

.PHONY: help build test stress lint bench fuzz soak deb demo clean man

help:
	@echo "make build   build ./posd (cgo on: HID scanners need it)"
	@echo "make test    go test -race ./..."
	@echo "make stress  go test -race of the money paths while a CPU hog keeps every core busy"
	@echo "make lint    go vet, staticcheck (pinned), and golangci-lint (.golangci.yml) when installed"
	@echo "make bench   benchmarks + the 60 s idle CPU/RSS measurement"
	@echo "make fuzz    every Fuzz* target for FUZZTIME=$(FUZZTIME) each"
	@echo "make soak    every test with POSD_SOAK=$(SOAK) (property tests run SOAK/1000 times their CI checks; the fleet simulation runs 1,000 tills)"
	@echo "make deb     $(DIST)/posd_<version>_<arch>.deb (ARCH=arm64 cross-compiles for ARM tills)"
	@echo "make man     regenerate docs/man/posd.8 and posd.toml.5 (from -h and configs/posd.toml)"
	@echo "make demo    run the whole till on embedded defaults (http://127.0.0.1:8080)"

build:
	@mkdir -p $(DIST)
	CGO_ENABLED=1 GOARCH=$(ARCH) CC=$(CROSS_CC) $(GO) build -trimpath -buildmode=pie -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/posd

test:
	$(GO) test -race $(PKG)

# A busy till: the money-path tests under a CPU hog (stress-ng, else internal/cpuhog),
# started and stopped by .ci/stress. STRESS_PKGS overrides the packages.
STRESS_PKGS ?= ./queue/... ./wxpay/... ./cmd/posd
stress:
	bash .ci/stress $(STRESS_PKGS)

# go vet and staticcheck (pinned in .ci/lint), then golangci-lint with .golangci.yml
# (errcheck, staticcheck, unused, gocyclo <= 30) when it is installed.
lint:
	$(GO) vet $(PKG)
	bash .ci/lint
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
	DEB_ARCH=$(ARCH) bash systemd/mkdeb.sh $(BIN) "$(VERSION)" $(DIST)

demo:
	$(GO) run ./cmd/posd demo

# posd(8) and posd.toml(5) from the usage text, -h and configs/posd.toml (TestManPages checks).
man:
	$(GO) run ./cmd/posd man -example configs/posd.toml -out docs/man

clean:
	rm -rf posd $(DIST)
