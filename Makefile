# Stevedore's developer entry points. See README.md.
#
#   make test   vet, gofmt check, unit and integration tests with -race
#               (installs and starts a private containerd when run as root)
#   make demo   runs examples/quickstart against a private containerd
#   make bench  runs the benchmarks recorded in BENCHMARKS.md

GO ?= go
PKGS ?= ./...
TEST_TIMEOUT ?= 15m

.PHONY: test check unit bench demo fmt

test: check
	./scripts/with-containerd.sh $(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) $(PKGS)

check:
	$(GO) vet $(PKGS)
	@out="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"; \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

# unit runs the tests that need neither root nor containerd.
unit:
	$(GO) test -race -count=1 -short $(PKGS)

bench:
	./scripts/with-containerd.sh $(GO) test -run '^$$' -bench . -benchmem $(PKGS)

demo:
	./scripts/with-containerd.sh $(GO) run ./examples/quickstart

fmt:
	gofmt -w $$(git ls-files '*.go')
