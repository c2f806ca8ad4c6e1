package integration

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/internal/containerdtest"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/logs"
	"github.com/stevedore-io/stevedore/network/netlinux"
	"github.com/stevedore-io/stevedore/runtime/containerd"
	"github.com/stevedore-io/stevedore/secrets"
	"github.com/stevedore-io/stevedore/service"
	"github.com/stevedore-io/stevedore/stevedoretest"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/memory"
	"github.com/stevedore-io/stevedore/task"
)

// Bounds of the waits every test shares.
const (
	// testTimeout bounds a whole test body.
	testTimeout = 2 * time.Minute
	// cleanupTimeout bounds a test's clean-up.
	cleanupTimeout = 90 * time.Second
	// pollEvery is how often waits look at the state again.
	pollEvery = 100 * time.Millisecond
)

// env is one test's world: its own containerd namespace, network provider
// (bridge, prefix, subnet), store, Orchestrator, cluster and container
// instance. Its clean-up removes all of it and reports what was left.
type env struct {
	t   testing.TB
	ctx context.Context // ends with the test, bounded by testTimeout

	name      string // short test name, for namespaces and the cluster
	dir       string // the test's files; outlives the clean-up
	namespace string // containerd namespace
	fifoDir   string
	netCfg    netlinux.Config
	cluster   string
	instance  string
	secrets   *secrets.Memory
	log       *syncBuffer // everything the Orchestrator, runtime and network logged
	logger    *slog.Logger

	// The parts a restart replaces; the clean-up uses the latest.
	rt    *containerd.Runtime
	nw    *netlinux.Provider
	orc   *stevedore.Orchestrator
	store store.Store
	logs  *logs.Store

	// extraAgents are stopped by the clean-up before the Orchestrator
	// closes (see runAgent).
	extraAgents []func()

	timeout time.Duration      // bounds ctx; testTimeout unless withTimeout
	orcOpts []stevedore.Option // more options of the Orchestrator
	address string             // containerd's socket; the shared one unless withContainerd
}

// envOption adjusts newEnv.
type envOption func(*env)

// withSecrets gives the instance a secret resolver holding values.
func withSecrets(values map[string]string) envOption {
	return func(e *env) { e.secrets = secrets.NewMemory(values) }
}

// withTimeout bounds the test body by d instead of testTimeout.
func withTimeout(d time.Duration) envOption {
	return func(e *env) { e.timeout = d }
}

// withContainerd connects the env to the containerd at address instead of
// the shared one (a daemon of the test's own, which it may kill).
func withContainerd(address string) envOption {
	return func(e *env) { e.address = address }
}

// withOrchestratorOptions gives the env's Orchestrator more options (for
// example WithTargetGroups).
func withOrchestratorOptions(opts ...stevedore.Option) envOption {
	return func(e *env) { e.orcOpts = append(e.orcOpts, opts...) }
}

// newEnv builds the test's world and registers its clean-up, which runs
// also when the test fails half-way through building it.
func newEnv(t testing.TB, opts ...envOption) *env {
	t.Helper()
	needIntegrationTB(t)
	// Made before the clean-up is registered, so that it is removed after it.
	dir := t.TempDir()
	e := &env{t: t, name: shortName(t), dir: dir, log: &syncBuffer{}, timeout: testTimeout, address: address}
	for _, opt := range opts {
		opt(e)
	}
	ctx, cancel := context.WithTimeout(context.Background(), e.timeout)
	t.Cleanup(cancel)
	e.ctx = ctx
	e.logger = slog.New(slog.NewTextHandler(e.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// Registered first, so it runs last: the log of the clean-up is in.
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log of the Orchestrator, agent, runtime and network (last 30 KiB):\n%s", e.log.Tail(30<<10))
		}
	})
	t.Cleanup(e.cleanup)

	e.namespace = namespacePrefix + e.name
	e.fifoDir = filepath.Join(fifoRoot, e.name)
	e.instance = "i-" + randomHex(17)
	recordCheckedDirs(e.fifoDir, agentStateDir(e.instance))

	rt, err := containerd.New(e.address, containerd.WithNamespace(e.namespace),
		containerd.WithFIFODir(e.fifoDir), containerd.WithLogger(e.logger.With("component", "runtime")))
	require.NoError(t, err, "connect to containerd at %s", e.address)
	e.rt = rt
	names, err := rt.ImportArchive(ctx, bytes.NewReader(imageArchive))
	require.NoError(t, err, "import the busybox image")
	require.Equal(t, []string{imageRef}, names)

	require.NoError(t, os.WriteFile(filepath.Join(dir, "resolv.conf"), []byte("nameserver 192.0.2.53\n"), 0o644))
	e.netCfg = pickNetwork(t, dir)
	e.netCfg.StateDir = filepath.Join(dir, "network")
	e.netCfg.Logger = e.logger.With("component", "network")
	e.nw, err = netlinux.New(e.netCfg)
	require.NoError(t, err)

	e.logs, err = logs.Open(filepath.Join(dir, "logs"))
	require.NoError(t, err)
	e.store, err = memory.New()
	require.NoError(t, err)
	e.orc = e.newOrchestrator()

	e.cluster = "it-" + e.name
	_, err = e.orc.CreateCluster(ctx, &stevedore.CreateClusterInput{ClusterName: e.cluster})
	require.NoError(t, err)
	e.registerInstance()
	return e
}

// newOrchestrator starts an Orchestrator on the env's store and log sink.
func (e *env) newOrchestrator() *stevedore.Orchestrator {
	opts := append([]stevedore.Option{stevedore.WithStore(e.store), stevedore.WithLogger(e.logger.With("component", "orchestrator")),
		stevedore.WithLogSink(e.logs)}, e.orcOpts...)
	orc, err := stevedore.New(opts...)
	require.NoError(e.t, err)
	return orc
}

// registerInstance registers the env's instance with its runtime and
// network, which starts its agent.
func (e *env) registerInstance() {
	_, err := e.orc.RegisterContainerInstance(e.ctx, e.instanceInput())
	require.NoError(e.t, err, "register container instance %s", e.instance)
}

// instanceInput is the registration of the env's instance.
func (e *env) instanceInput() *stevedore.RegisterContainerInstanceInput {
	in := &stevedore.RegisterContainerInstanceInput{
		Cluster:    e.cluster,
		InstanceID: e.instance,
		Resources:  cluster.Resources{CPU: 4096, Memory: 4096, NetworkSlots: 16},
		Attributes: map[string]string{cluster.AttributeAvailabilityZone: "zone-a"},
		Runtime:    e.rt,
		Network:    e.nw,
	}
	if e.secrets != nil { // not a typed nil in the interface
		in.Secrets = e.secrets
	}
	return in
}

// cleanup stops every task and service and waits until they are STOPPED,
// closes the Orchestrator, then checks that no container, network object
// or task directory is left (removing what is, and failing the test).
func (e *env) cleanup() {
	t := e.t
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	if e.orc != nil {
		if err := e.stopEverything(ctx); err != nil {
			t.Errorf("clean-up: %v", err)
		}
		for _, stop := range e.extraAgents {
			stop()
		}
		if err := e.orc.Close(); err != nil {
			t.Errorf("clean-up: close the Orchestrator: %v", err)
		}
	}
	if e.store != nil {
		_ = e.store.Close()
	}
	if e.rt != nil {
		cleanUpRuntime(ctx, t, e.rt)
		// The namespace is this test's alone: its cgroups can go.
		containerdtest.RemoveCgroups(e.namespace)
	}
	if e.nw != nil {
		cleanUpNetwork(ctx, t, e.nw)
	}
	if e.logs != nil {
		_ = e.logs.Close()
	}
	if e.instance != "" {
		dir := agentStateDir(e.instance)
		tasks, _ := filepath.Glob(filepath.Join(dir, "tasks", "*"))
		if len(tasks) > 0 {
			t.Errorf("clean-up: agent task directories left behind: %s", strings.Join(tasks, ", "))
		} else if err := os.RemoveAll(dir); err != nil {
			t.Errorf("clean-up: %v", err)
		}
	}
}

// stopEverything deletes the services and stops the tasks of the env's
// cluster, and waits until every service is INACTIVE and every task
// STOPPED.
func (e *env) stopEverything(ctx context.Context) error {
	svcs, err := stevedoretest.ServicesOf(e.orc.DescribeServices(ctx, &stevedore.DescribeServicesInput{Cluster: e.cluster}))
	if err != nil && !errors.Is(err, stevedore.ErrNotFound) {
		return fmt.Errorf("describe services: %w", err)
	}
	for _, s := range svcs {
		if s.Status != service.StatusInactive {
			if _, err := e.orc.DeleteService(ctx, &stevedore.DeleteServiceInput{Cluster: e.cluster, Service: s.Name, Force: true}); err != nil && !errors.Is(err, stevedore.ErrNotFound) {
				return fmt.Errorf("delete service %s: %w", s.Name, err)
			}
		}
	}
	ids, err := e.orc.AllTaskArns(ctx, &stevedore.ListTasksInput{Cluster: e.cluster})
	if err != nil && !errors.Is(err, stevedore.ErrNotFound) {
		return fmt.Errorf("list tasks: %w", err)
	}
	for _, id := range ids {
		if _, err := e.orc.StopTask(ctx, &stevedore.StopTaskInput{Cluster: e.cluster, Task: id, Reason: "integration test clean-up"}); err != nil {
			return fmt.Errorf("stop task %s: %w", id, err)
		}
	}
	var remaining []string
	for {
		remaining = remaining[:0]
		err := e.store.View(ctx, func(tx store.ReadTx) error {
			remaining = remaining[:0]
			tasks, err := store.List[*state.Task](tx, state.KindTasks)
			if err != nil {
				return err
			}
			for _, t := range tasks {
				if t.LastStatus != task.Stopped {
					remaining = append(remaining, fmt.Sprintf("task %s %s", t.ID(), t.LastStatus))
				}
			}
			svcs, err := store.List[*state.Service](tx, state.KindServices)
			if err != nil {
				return err
			}
			for _, s := range svcs {
				if s.Status != service.StatusInactive {
					remaining = append(remaining, fmt.Sprintf("service %s %s", s.Name, s.Status))
				}
			}
			return nil
		})
		if err == nil && len(remaining) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("still not stopped at the end of the clean-up: %s (%v)", strings.Join(remaining, ", "), err)
		case <-time.After(pollEvery):
		}
	}
}

// waitNoNetworkLeftovers gives the kernel a moment to remove the veths of
// deleted namespaces and returns what is still there.
func waitNoNetworkLeftovers(ctx context.Context, nw *netlinux.Provider) []string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		left, err := nw.Leftovers()
		if err != nil {
			left = append(left, "error: "+err.Error())
		}
		if len(left) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return left
		case <-time.After(pollEvery):
		}
	}
}

// network picking: every test gets a subnet 10.214.<n>.0/24, bridge
// stvi<nn>br and object prefix stvi<nn>- with n unique in the process,
// starting at a random point so that two runs at once rarely meet, and
// checked against the host's interfaces and namespaces.
var (
	netCounter atomic.Uint32
	netBase    = rand.Uint32N(250)
)

func pickNetwork(t testing.TB, dir string) netlinux.Config {
	t.Helper()
	for range 250 {
		n := 1 + (netBase+netCounter.Add(1))%250
		id := fmt.Sprintf("%02x", n)
		cfg := netlinux.DefaultConfig()
		cfg.Subnet = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 214, byte(n), 0}), 24)
		cfg.BridgeName = namePrefix + id + "br"
		cfg.NamePrefix = namePrefix + id + "-"
		cfg.HostResolvConf = filepath.Join(dir, "resolv.conf")
		if networkFree(cfg) {
			return cfg
		}
	}
	t.Fatal("no free 10.214.<n>.0/24 subnet and stvi<nn> names left on this host")
	return netlinux.Config{}
}

// networkFree reports whether nothing on the host uses cfg's subnet,
// bridge or prefix.
func networkFree(cfg netlinux.Config) bool {
	ifaces, err := net.Interfaces()
	if err != nil {
		return false
	}
	for _, ifc := range ifaces {
		if ifc.Name == cfg.BridgeName || strings.HasPrefix(ifc.Name, cfg.NamePrefix) {
			return false
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(ipn.IP); ok && cfg.Subnet.Contains(ip.Unmap()) {
					return false
				}
			}
		}
	}
	matches, _ := filepath.Glob(filepath.Join(netlinux.DefaultConfig().NetNSDir, cfg.NamePrefix+"*"))
	return len(matches) == 0
}

var nonName = regexp.MustCompile(`[^a-z0-9]+`)

// shortName is the test's name as a lower-case identifier of at most 24
// characters (unique among the package's tests).
func shortName(t testing.TB) string {
	name := strings.TrimPrefix(strings.TrimPrefix(t.Name(), "Test"), "Benchmark")
	name = strings.Trim(nonName.ReplaceAllString(strings.ToLower(name), "-"), "-")
	if len(name) > 24 {
		name = strings.TrimRight(name[:24], "-")
	}
	return name
}

func randomHex(n int) string {
	b := make([]byte, (n+1)/2)
	_, _ = crand.Read(b)
	return hex.EncodeToString(b)[:n]
}

// syncBuffer is a bytes.Buffer safe for concurrent writers (the loggers).
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Tail returns at most the last n bytes written.
func (b *syncBuffer) Tail(n int) string {
	s := b.String()
	if len(s) > n {
		return "...\n" + s[len(s)-n:]
	}
	return s
}

// cleanUpRuntime removes (and reports) containers left in a test's runtime,
// checks for leaked snapshots and FIFOs, and closes it.
func cleanUpRuntime(ctx context.Context, tb testing.TB, rt *containerd.Runtime) {
	tb.Helper()
	left, err := rt.List(ctx, nil)
	if err != nil {
		tb.Errorf("clean-up: list containers: %v", err)
	}
	for _, c := range left {
		tb.Errorf("clean-up: container %s (%s) left behind; removing it", c.ID, c.State)
		if err := rt.Delete(ctx, c.ID); err != nil {
			tb.Errorf("clean-up: delete container %s: %v", c.ID, err)
		}
	}
	if err := rt.LeakCheck(ctx); err != nil {
		tb.Errorf("clean-up: %v", err)
	}
	_ = rt.Close()
}

// cleanUpNetwork destroys a test's task networks and bridge, checks that
// nothing is left, and closes the provider.
func cleanUpNetwork(ctx context.Context, tb testing.TB, nw *netlinux.Provider) {
	tb.Helper()
	if err := nw.Destroy(ctx); err != nil {
		tb.Errorf("clean-up: destroy the task networks and the bridge: %v", err)
	}
	if left := waitNoNetworkLeftovers(ctx, nw); len(left) > 0 {
		tb.Errorf("clean-up: network objects left behind: %s", strings.Join(left, ", "))
	}
	_ = nw.Close()
}
