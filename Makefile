# Stevedore's developer entry points. See README.md.
#
#   make test   vet, gofmt check, unit and integration tests with -race
#               (installs and starts a private containerd when run as root),
#               3 chaos trials of each scenario among them (internal/chaos)
#   make demo   runs examples/quickstart against a private containerd
#   make bench  runs the benchmarks recorded in BENCHMARKS.md
#   make fuzz   runs every fuzz target for FUZZTIME each (default 10s)
#   make chaos  crash trials: a cmd/stevedore process with real containers
#               SIGKILLed at random moments and restarted (CHAOS_TRIALS, seed
#               printed, CHAOS_SEED replays, CHAOS_TRIAL=n only trial n),
#               the same on etcd with three replicas (CHAOS_ETCD_TRIALS),
#               then store/bolt's in-process crash and damage trials
#               (CHAOS_ITERATIONS)

GO ?= go
PKGS ?= ./...
TEST_TIMEOUT ?= 15m
FUZZTIME ?= 10s
CHAOS_TRIALS ?= 20
CHAOS_SEED ?= 0
CHAOS_TRIAL ?= 0
CHAOS_ETCD_TRIALS ?= 9
CHAOS_ITERATIONS ?= 200

.PHONY: test check unit bench demo fmt fuzz chaos

# test ends with a leak check inside the private containerd: no containers,
# snapshots, namespaces, veths, bridges or nftables tables of ours may be left.
test: check
	./scripts/with-containerd.sh sh -c 'rc=0; $(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) $(PKGS) || rc=$$?; \
		if [ "$$(id -u)" = 0 ]; then $(GO) run ./internal/leakcheck/cmd/stevedore-leakcheck || rc=1; fi; exit $$rc'

check:
	$(GO) vet $(PKGS)
	@out="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"; \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

# unit runs the tests that need neither root nor containerd.
unit:
	$(GO) test -race -count=1 -short $(PKGS)

bench:
	./scripts/with-containerd.sh $(GO) test -run '^$$' -bench . -benchmem $(PKGS)

fuzz:
	GO=$(GO) ./scripts/fuzz.sh $(FUZZTIME)

# chaos first runs CHAOS_TRIALS crash trials of the control plane as a
# process (internal/chaos): cmd/stevedore on a data directory, with real
# containers in a private containerd, killed with SIGKILL at a random moment
# during a rolling deployment, a blue/green shift, a RunTask/StopTask burst
# or scaling, and restarted; each trial checks the intended state, no task
# or container twice, nothing orphaned on the host and task histories that
# never go back. It prints one line per trial and "chaos: N/M trials
# passed". Then the control plane on etcd: three etcd members and three
# servers sharing them, each hosting an instance; during a rolling
# deployment of a 6-task service, the leader is killed (another must lead
# within 5 s), an etcd member is killed and brought back, or the leader is
# paused with SIGSTOP past its lease (another must lead; after SIGCONT the
# old one must step down); CHAOS_ETCD_TRIALS trials, the same checks.
# Then it kills a writer of the durable store at random moments
# (the seed is printed; -bolt.crash-seed replays one) and damages its file
# at random, and its log, CHAOS_ITERATIONS times each: nothing committed
# may be lost, and a damaged file or log is refused, never emptied.
chaos:
	./scripts/with-containerd.sh env GO=$(GO) STEVEDORE_CHAOS_SEED=$(CHAOS_SEED) \
		$(GO) run ./internal/chaos/cmd/stevedore-chaos -trials $(CHAOS_TRIALS) -trial $(CHAOS_TRIAL)
	./scripts/with-containerd.sh env GO=$(GO) STEVEDORE_CHAOS_SEED=$(CHAOS_SEED) \
		$(GO) run ./internal/chaos/cmd/stevedore-chaos -scenario etcd -trials $(CHAOS_ETCD_TRIALS)
	STEVEDORE_CRASH_ITERATIONS=$(CHAOS_ITERATIONS) STEVEDORE_DAMAGE_ITERATIONS=$$(( $(CHAOS_ITERATIONS) * 50 )) \
		$(GO) test -count=1 -timeout 60m -run 'TestCrashSafety|TestRandomDamageIsRefused|TestRandomLogDamage' ./store/bolt/

demo:
	./scripts/with-containerd.sh $(GO) run ./examples/quickstart

fmt:
	gofmt -w $$(git ls-files '*.go')
