package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"math"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/contrib/seccomp"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/agent"
	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/network"
	"github.com/stevedore-io/stevedore/network/netlinux"
	"github.com/stevedore-io/stevedore/runtime"
	"github.com/stevedore-io/stevedore/runtime/containerd"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/memory"
	"github.com/stevedore-io/stevedore/task"
)

// The benchmarks below compare a whole awsvpc task through the Orchestrator
// with the same container started by plain containerd client calls in a
// network namespace of its own, in the same run and interleaved (the
// sides take turns in a rotating order), so that all sides see the same
// load. The raw client runs twice: with the default seccomp profile and
// no_new_privs that Stevedore's spec has ("raw", like for like) and with
// containerd's default spec ("raw-plain"). Each reports its own percentiles with
// b.ReportMetric; ns/op is the whole iteration, both sides and the
// untimed start or stop around the measured part, and means little.
//
//	./scripts/with-containerd.sh go test -run '^$' -bench . -benchtime 30x ./integration/
//
// Stevedore's side waits through Orchestrator.Subscribe: a task is RUNNING
// (STOPPED) when the event saying so reaches the benchmark. The runtime and
// network provider of the instance are wrapped in timers, so that a
// benchmark can say where the time goes (api, agent reaction, network
// set-up, create, start, the store writes and event delivery around them).

// benchConcurrency is how many tasks BenchmarkRunTaskConcurrent starts at
// once on each side.
const benchConcurrency = 20

// benchWait bounds every single wait of the benchmarks.
const benchWait = 90 * time.Second

// BenchmarkRunTaskToRunning measures RunTask to RUNNING of a one-container
// awsvpc task against the raw client doing netns creation, create (image
// lookup, snapshot, spec) and start of the same container, twice: with
// containerd's default spec ("raw-plain") and with the default seccomp
// profile and no_new_privs as Stevedore's spec has them ("raw", like for
// like). The three sides take turns, in a rotating order. Metrics: p50-ms
// and p90-ms (Stevedore), raw-p50-ms, raw-p90-ms, raw-plain-p50-ms and
// raw-plain-p90-ms, ratio-p50 (against raw) and ratio-plain-p50; the p50
// and p90 of each stage of every side are logged.
func BenchmarkRunTaskToRunning(b *testing.B) {
	w := newBenchWorld(b)
	w.warmUp()
	var sd []startSample
	var raw, plain []rawStart
	i := 0
	for b.Loop() {
		sides := []func(){
			func() { sd = append(sd, w.startOne()) },
			func() { raw = append(raw, w.rawStartOne(true)) },
			func() { plain = append(plain, w.rawStartOne(false)) },
		}
		for k := range sides {
			sides[(i+k)%len(sides)]()
		}
		// Untimed as far as the metrics go: take them down again.
		w.stopTask(w.handlingTerm(sd[len(sd)-1].id))
		w.rawStop(w.rawHandlingTerm(raw[len(raw)-1].task))
		w.rawStop(w.rawHandlingTerm(plain[len(plain)-1].task))
		i++
	}
	total := durations(sd, func(s startSample) time.Duration { return s.total })
	rawTotal := durations(raw, func(s rawStart) time.Duration { return s.total })
	plainTotal := durations(plain, func(s rawStart) time.Duration { return s.total })
	reportPercentiles(b, "", total)
	reportPercentiles(b, "raw-", rawTotal)
	reportPercentiles(b, "raw-plain-", plainTotal)
	b.ReportMetric(ms(percentile(total, 0.5))/ms(percentile(rawTotal, 0.5)), "ratio-p50")
	b.ReportMetric(ms(percentile(total, 0.5))/ms(percentile(plainTotal, 0.5)), "ratio-plain-p50")
	logStages(b, "RunTask to RUNNING (Stevedore)", sd, startColumns)
	logStages(b, "create + start + netns (raw client, seccomp and no_new_privs)", raw, rawStartColumns)
	logStages(b, "create + start + netns (raw client, containerd's default spec)", plain, rawStartColumns)
}

// BenchmarkRunTaskConcurrent starts benchConcurrency tasks at once (one
// RunTask call per task, all at the same time) and measures the time until
// all of them are RUNNING, against the raw client starting as many
// containers at once, each in a netns of its own, with seccomp and
// no_new_privs ("raw") and without ("raw-plain"). One iteration is one
// round of one side, the sides taking turns in a rotating order, so that
// -benchtime 30x gives ten rounds of each. The tasks of a round are then
// stopped, all at once too, and the time until all are gone is reported
// as well (stop-p50-ms, raw-stop-p50-ms).
func BenchmarkRunTaskConcurrent(b *testing.B) {
	w := newBenchWorld(b)
	w.warmUp()
	var sdStart, rawStartAll, plainStartAll, sdStop, rawStopAll []time.Duration
	var sdTasks []startSample
	var sdStops []stopSample
	var rawTasks, plainTasks []rawStart
	var rawStops []rawStopSample
	i := 0
	for b.Loop() {
		switch (i + i/3) % 3 {
		case 0:
			d, samples := w.startMany(benchConcurrency)
			sdStart, sdTasks = append(sdStart, d), append(sdTasks, samples...)
			for _, s := range samples {
				w.handlingTerm(s.id)
			}
			d, stops := w.stopMany(taskIDs(samples))
			sdStop, sdStops = append(sdStop, d), append(sdStops, stops...)
		default:
			secure := (i+i/3)%3 == 1
			d, samples := w.rawStartMany(benchConcurrency, secure)
			if secure {
				rawStartAll, rawTasks = append(rawStartAll, d), append(rawTasks, samples...)
			} else {
				plainStartAll, plainTasks = append(plainStartAll, d), append(plainTasks, samples...)
			}
			for _, s := range samples {
				w.rawHandlingTerm(s.task)
			}
			d, stops := w.rawStopMany(samples)
			rawStopAll, rawStops = append(rawStopAll, d), append(rawStops, stops...)
		}
		i++
	}
	if len(sdStart) == 0 || len(rawStartAll) == 0 || len(plainStartAll) == 0 {
		b.Fatalf("%d rounds: run at least 3 (-benchtime 30x gives 10 of each side)", i)
	}
	reportPercentiles(b, "", sdStart)
	reportPercentiles(b, "raw-", rawStartAll)
	reportPercentiles(b, "raw-plain-", plainStartAll)
	b.ReportMetric(ms(percentile(sdStart, 0.5))/ms(percentile(rawStartAll, 0.5)), "ratio-p50")
	b.ReportMetric(ms(percentile(sdStart, 0.5))/ms(percentile(plainStartAll, 0.5)), "ratio-plain-p50")
	b.ReportMetric(ms(percentile(sdStop, 0.5)), "stop-p50-ms")
	b.ReportMetric(ms(percentile(rawStopAll, 0.5)), "raw-stop-p50-ms")
	b.Logf("%d at once, %d+%d+%d rounds, all RUNNING: Stevedore p50 %.0f ms p90 %.0f ms, raw p50 %.0f ms p90 %.0f ms, raw-plain p50 %.0f ms; all STOPPED: Stevedore p50 %.0f ms, raw p50 %.0f ms",
		benchConcurrency, len(sdStart), len(rawStartAll), len(plainStartAll), ms(percentile(sdStart, 0.5)), ms(percentile(sdStart, 0.9)),
		ms(percentile(rawStartAll, 0.5)), ms(percentile(rawStartAll, 0.9)), ms(percentile(plainStartAll, 0.5)),
		ms(percentile(sdStop, 0.5)), ms(percentile(rawStopAll, 0.5)))
	logStages(b, "each task, RunTask to RUNNING (Stevedore)", sdTasks, startColumns)
	logStages(b, "each container, create + start + netns (raw client, seccomp and no_new_privs)", rawTasks, rawStartColumns)
	logStages(b, "each container, create + start + netns (raw client, containerd's default spec)", plainTasks, rawStartColumns)
	logStages(b, "each task, StopTask to STOPPED (Stevedore)", sdStops, stopColumns)
	logStages(b, "each container, Kill + Wait + Delete + netns delete (raw client)", rawStops, rawStopColumns)
}

func taskIDs(samples []startSample) []string {
	ids := make([]string, len(samples))
	for i, s := range samples {
		ids[i] = s.id
	}
	return ids
}

// BenchmarkStopTaskToStopped measures StopTask to STOPPED of a running
// one-container awsvpc task whose process exits on SIGTERM, against the
// raw client doing Kill(SIGTERM), waiting for the exit, deleting the task
// and the container (with its snapshot) and deleting the netns. The start
// before each stop is not measured.
func BenchmarkStopTaskToStopped(b *testing.B) {
	w := newBenchWorld(b)
	w.warmUp()
	var sd []stopSample
	var raw []rawStopSample
	i := 0
	for b.Loop() {
		id := w.handlingTerm(w.startOne().id)
		rt := w.rawHandlingTerm(w.rawStartOne(false).task)
		sides := []func(){
			func() { sd = append(sd, w.stopOne(id)) },
			func() { raw = append(raw, w.rawStop(rt)) },
		}
		if i%2 == 1 {
			slices.Reverse(sides)
		}
		for _, side := range sides {
			side()
		}
		i++
	}
	total := durations(sd, func(s stopSample) time.Duration { return s.total })
	rawTotal := durations(raw, func(s rawStopSample) time.Duration { return s.total })
	reportPercentiles(b, "", total)
	reportPercentiles(b, "raw-", rawTotal)
	b.ReportMetric(ms(percentile(total, 0.5))/ms(percentile(rawTotal, 0.5)), "ratio-p50")
	logStages(b, "StopTask to STOPPED (Stevedore)", sd, stopColumns)
	logStages(b, "Kill + Wait + Delete + netns delete (raw client)", raw, rawStopColumns)
}

// The stages the benchmarks log, in the order they happen.
var (
	startColumns = []stageColumn[startSample]{
		{"total", func(s startSample) time.Duration { return s.total }},
		{"RunTask call", func(s startSample) time.Duration { return s.api }},
		{"agent reaction (to network set-up)", func(s startSample) time.Duration { return s.react }},
		{"network set-up", func(s startSample) time.Duration { return s.net }},
		{"PENDING write, pull check", func(s startSample) time.Duration { return s.toCreate }},
		{"create", func(s startSample) time.Duration { return s.create }},
		{"create to start", func(s startSample) time.Duration { return s.toStart }},
		{"start", func(s startSample) time.Duration { return s.start }},
		{"ACTIVATING+RUNNING writes, event", func(s startSample) time.Duration { return s.toRunning }},
	}
	rawStartColumns = []stageColumn[rawStart]{
		{"total", func(s rawStart) time.Duration { return s.total }},
		{"netns", func(s rawStart) time.Duration { return s.netns }},
		{"create", func(s rawStart) time.Duration { return s.create }},
		{"start", func(s rawStart) time.Duration { return s.start }},
	}
	stopColumns = []stageColumn[stopSample]{
		{"total", func(s stopSample) time.Duration { return s.total }},
		{"StopTask call", func(s stopSample) time.Duration { return s.api }},
		{"agent reaction (DEACTIVATING, STOPPING writes) to SIGTERM", func(s stopSample) time.Duration { return s.react }},
		{"SIGTERM to exit seen, DEPROVISIONING write", func(s stopSample) time.Duration { return s.exit }},
		{"delete container", func(s stopSample) time.Duration { return s.delete }},
		{"network teardown", func(s stopSample) time.Duration { return s.teardown }},
		{"STOPPED write, release, event", func(s stopSample) time.Duration { return s.toStopped }},
	}
	rawStopColumns = []stageColumn[rawStopSample]{
		{"total", func(s rawStopSample) time.Duration { return s.total }},
		{"SIGTERM to exit", func(s rawStopSample) time.Duration { return s.exit }},
		{"delete task and container", func(s rawStopSample) time.Duration { return s.delete }},
		{"netns delete", func(s rawStopSample) time.Duration { return s.netns }},
	}
)

// benchWorld is one benchmark's world, as env is a test's: a containerd
// namespace shared by Stevedore's runtime and the raw client, a network
// provider with its own bridge, prefix and subnet, a memory store, an
// Orchestrator with one cluster and one instance, the task definition, the
// Subscribe log and the stage timers.
type benchWorld struct {
	b   *testing.B
	ctx context.Context

	name      string
	namespace string
	netCfg    netlinux.Config
	cluster   string
	instance  string
	log       *syncBuffer

	rt     *containerd.Runtime
	nw     *netlinux.Provider
	store  store.Store
	orc    *stevedore.Orchestrator
	def    *task.TaskDefinition
	status *statusLog
	spans  *spanLog
	raw    *rawLauncher
}

// newBenchWorld builds the benchmark's world and registers its clean-up,
// which runs also when building it fails half-way.
func newBenchWorld(b *testing.B) *benchWorld {
	b.Helper()
	needIntegrationTB(b)
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	dir := b.TempDir()
	w := &benchWorld{b: b, ctx: ctx, name: benchName(b), log: &syncBuffer{}, spans: newSpanLog()}
	logger := slog.New(slog.NewTextHandler(w.log, &slog.HandlerOptions{Level: slog.LevelWarn}))
	b.Cleanup(func() {
		if b.Failed() {
			b.Logf("warnings of the Orchestrator, agent, runtime and network (last 30 KiB):\n%s", w.log.Tail(30<<10))
		}
	})
	b.Cleanup(w.cleanup)

	w.namespace = namespacePrefix + w.name
	fifoDir := filepath.Join(fifoRoot, w.name)
	w.instance = "i-" + randomHex(17)
	recordCheckedDirs(fifoDir, agentStateDir(w.instance))

	rt, err := containerd.New(address, containerd.WithNamespace(w.namespace),
		containerd.WithFIFODir(fifoDir), containerd.WithLogger(logger.With("component", "runtime")))
	require.NoError(b, err, "connect to containerd at %s", address)
	w.rt = rt
	names, err := rt.ImportArchive(ctx, bytes.NewReader(imageArchive))
	require.NoError(b, err, "import the busybox image")
	require.Equal(b, []string{imageRef}, names)

	require.NoError(b, os.WriteFile(filepath.Join(dir, "resolv.conf"), []byte("nameserver 192.0.2.53\n"), 0o644))
	w.netCfg = pickNetwork(b, dir)
	w.netCfg.StateDir = filepath.Join(dir, "network")
	w.netCfg.Logger = logger.With("component", "network")
	w.nw, err = netlinux.New(w.netCfg)
	require.NoError(b, err)

	w.raw, err = newRawLauncher(ctx, w.namespace, rt.Snapshotter(), w.netCfg)
	require.NoError(b, err)

	w.store, err = memory.New()
	require.NoError(b, err)
	w.orc, err = stevedore.New(stevedore.WithStore(w.store), stevedore.WithLogger(logger.With("component", "orchestrator")))
	require.NoError(b, err)
	// Subscribed before anything happens, so that no task event is missed.
	w.status, err = subscribeStatus(ctx, w.orc)
	require.NoError(b, err)

	w.cluster = "bench-" + w.name
	_, err = w.orc.CreateCluster(ctx, &stevedore.CreateClusterInput{ClusterName: w.cluster})
	require.NoError(b, err)
	_, err = w.orc.RegisterContainerInstance(ctx, &stevedore.RegisterContainerInstanceInput{
		Cluster:    w.cluster,
		InstanceID: w.instance,
		Resources:  cluster.Resources{CPU: 4 * 4096, Memory: 8192, NetworkSlots: 4 * benchConcurrency},
		Attributes: map[string]string{cluster.AttributeAvailabilityZone: "zone-a"},
		Runtime:    timedRuntime{Runtime: rt, spans: w.spans},
		Network:    timedNetwork{Provider: w.nw, spans: w.spans},
	})
	require.NoError(b, err, "register container instance %s", w.instance)

	td, warnings, err := task.ParseDefinition(fmt.Appendf(nil, `{
		"family": "bench",
		"networkMode": "awsvpc",
		"containerDefinitions": [{
			"name": "app", "image": %q, "essential": true, "memory": %d,
			%s, "stopTimeout": %d
		}]
	}`, imageRef, benchMemoryMiB, shellCommand(idleScript), int(benchStopTimeout/time.Second)))
	require.NoError(b, err)
	require.Empty(b, warnings)
	reg, err := w.orc.RegisterTaskDefinition(ctx, &stevedore.RegisterTaskDefinitionInput{TaskDefinition: *td})
	require.NoError(b, err)
	w.def = reg.TaskDefinition
	return w
}

// The container's memory limit and stop timeout, on both sides.
const (
	benchMemoryMiB   = 16
	benchStopTimeout = 10 * time.Second
)

// warmUp runs one task and one raw container to RUNNING and stops them, so
// that the first measured iteration does not pay for the bridge, the host
// nftables table or cold caches.
func (w *benchWorld) warmUp() {
	w.b.Helper()
	w.stopTask(w.handlingTerm(w.startOne().id))
	w.rawStop(w.rawHandlingTerm(w.rawStartOne(false).task))
	w.rawStop(w.rawHandlingTerm(w.rawStartOne(true).task))
}

// handlingTerm waits until the shell of task id handles SIGTERM and
// returns id. Between the start of a container and its shell's trap
// builtin, SIGTERM reaches a PID 1 without a handler and the kernel drops
// it: a stop then waits for the stopTimeout and SIGKILL. Both sides wait
// for this before a stop, untimed.
func (w *benchWorld) handlingTerm(id string) string {
	w.b.Helper()
	ctx, cancel := w.waitCtx()
	defer cancel()
	info, err := w.rt.Inspect(ctx, agent.ContainerID(id, "app"))
	require.NoError(w.b, err)
	require.NoError(w.b, waitHandlesTerm(ctx, info.PID), "task %s", id)
	return id
}

// rawHandlingTerm is handlingTerm for a raw container.
func (w *benchWorld) rawHandlingTerm(t *rawTask) *rawTask {
	w.b.Helper()
	ctx, cancel := w.waitCtx()
	defer cancel()
	require.NoError(w.b, waitHandlesTerm(ctx, int(t.task.Pid())), "raw container %s", t.id)
	return t
}

// waitHandlesTerm waits until process pid catches SIGTERM, looking at
// /proc/<pid>/status every millisecond (the kernel has no event for it),
// at most until ctx ends.
func waitHandlesTerm(ctx context.Context, pid int) error {
	term := uint64(1) << (uint(syscall.SIGTERM) - 1)
	ticker := time.NewTicker(time.Millisecond)
	defer ticker.Stop()
	for {
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			return fmt.Errorf("process %d: %w", pid, err)
		}
		for line := range strings.Lines(string(status)) {
			if v, ok := strings.CutPrefix(line, "SigCgt:"); ok {
				mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
				if err != nil {
					return fmt.Errorf("process %d: SigCgt: %w", pid, err)
				}
				if mask&term != 0 {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("process %d does not handle SIGTERM: %w", pid, ctx.Err())
		case <-ticker.C:
		}
	}
}

// waitCtx is a context for one bounded wait.
func (w *benchWorld) waitCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(w.ctx, benchWait)
}

// startSample is one RunTask to RUNNING, cut into consecutive stages.
type startSample struct {
	id    string
	total time.Duration

	api       time.Duration // RunTask call
	react     time.Duration // RunTask returned -> network Setup begins
	net       time.Duration // network Setup
	toCreate  time.Duration // Setup returned -> Create begins (PENDING write, EnsureImage)
	create    time.Duration // runtime Create
	toStart   time.Duration // Create returned -> Start begins
	start     time.Duration // runtime Start
	toRunning time.Duration // Start returned -> RUNNING event received
}

// startOne runs one task and waits until it is RUNNING.
func (w *benchWorld) startOne() startSample {
	w.b.Helper()
	ctx, cancel := w.waitCtx()
	defer cancel()
	t0 := time.Now()
	id, err := w.runTask(ctx)
	require.NoError(w.b, err)
	returned := time.Now()
	running, err := w.status.wait(ctx, id, task.Running)
	require.NoError(w.b, err)
	return w.startSampleOf(id, t0, returned, running)
}

// startSampleOf cuts the start of task id into stages: RunTask was called
// at t0 and returned at returned; RUNNING was received at running.
func (w *benchWorld) startSampleOf(id string, t0, returned, running time.Time) startSample {
	s := startSample{id: id, total: running.Sub(t0), api: returned.Sub(t0)}
	sp := w.spans.of(id)
	if net, create, start := sp["setup"], sp["create"], sp["start"]; net.ok() && create.ok() && start.ok() {
		s.react = net.begin.Sub(returned)
		s.net = net.end.Sub(net.begin)
		s.toCreate = create.begin.Sub(net.end)
		s.create = create.end.Sub(create.begin)
		s.toStart = start.begin.Sub(create.end)
		s.start = start.end.Sub(start.begin)
		s.toRunning = running.Sub(start.end)
	}
	return s
}

// runTask starts one task of the world's definition and returns its ID.
func (w *benchWorld) runTask(ctx context.Context) (string, error) {
	out, err := w.orc.RunTask(ctx, &stevedore.RunTaskInput{Cluster: w.cluster, TaskDefinition: w.def.Ref()})
	if err != nil {
		return "", fmt.Errorf("run task: %w", err)
	}
	if len(out.Failures) > 0 || len(out.Tasks) != 1 {
		return "", fmt.Errorf("run task: %d tasks, failures %+v", len(out.Tasks), out.Failures)
	}
	return out.Tasks[0].ID(), nil
}

// startMany runs n tasks at once (one RunTask call each) and returns the
// time until all of them were RUNNING and each task's sample (its total is
// from the common start).
func (w *benchWorld) startMany(n int) (time.Duration, []startSample) {
	w.b.Helper()
	ctx, cancel := w.waitCtx()
	defer cancel()
	samples := make([]startSample, n)
	var g errgroup.Group
	t0 := time.Now()
	for i := range n {
		g.Go(func() error {
			id, err := w.runTask(ctx)
			if err != nil {
				return err
			}
			returned := time.Now()
			running, err := w.status.wait(ctx, id, task.Running)
			if err != nil {
				return err
			}
			samples[i] = w.startSampleOf(id, t0, returned, running)
			return nil
		})
	}
	err := g.Wait()
	// Started ones are stopped by the clean-up when the benchmark fails.
	require.NoError(w.b, err)
	return slices.Max(durations(samples, func(s startSample) time.Duration { return s.total })), samples
}

// stopSample is one StopTask to STOPPED, cut into consecutive stages.
type stopSample struct {
	total time.Duration

	api       time.Duration // StopTask call
	react     time.Duration // StopTask returned -> SIGTERM sent
	exit      time.Duration // SIGTERM -> container Delete begins
	delete    time.Duration // runtime Delete
	teardown  time.Duration // network Teardown
	toStopped time.Duration // Teardown returned -> STOPPED event received
}

// stopOne stops a running task and waits until it is STOPPED.
func (w *benchWorld) stopOne(id string) stopSample {
	w.b.Helper()
	ctx, cancel := w.waitCtx()
	defer cancel()
	t0 := time.Now()
	_, err := w.orc.StopTask(ctx, &stevedore.StopTaskInput{Cluster: w.cluster, Task: id, Reason: "benchmark"})
	require.NoError(w.b, err)
	returned := time.Now()
	stopped, err := w.status.wait(ctx, id, task.Stopped)
	require.NoError(w.b, err)
	return w.stopSampleOf(id, t0, returned, stopped)
}

// stopSampleOf cuts the stop of task id into stages: StopTask was called
// at t0 and returned at returned; STOPPED was received at stopped.
func (w *benchWorld) stopSampleOf(id string, t0, returned, stopped time.Time) stopSample {
	s := stopSample{total: stopped.Sub(t0), api: returned.Sub(t0)}
	sp := w.spans.of(id)
	if sig, del, td := sp["signal"], sp["delete"], sp["teardown"]; sig.ok() && del.ok() && td.ok() {
		s.react = sig.begin.Sub(returned)
		s.exit = del.begin.Sub(sig.begin)
		s.delete = del.end.Sub(del.begin)
		s.teardown = td.end.Sub(td.begin)
		s.toStopped = stopped.Sub(td.end)
	}
	return s
}

// stopTask stops a task and waits until it is STOPPED.
func (w *benchWorld) stopTask(id string) { w.b.Helper(); w.stopOne(id) }

// stopMany stops tasks at once and returns the time until all of them were
// STOPPED, and each task's sample (its total is from the common start).
func (w *benchWorld) stopMany(ids []string) (time.Duration, []stopSample) {
	w.b.Helper()
	ctx, cancel := w.waitCtx()
	defer cancel()
	samples := make([]stopSample, len(ids))
	var g errgroup.Group
	t0 := time.Now()
	for i, id := range ids {
		g.Go(func() error {
			if _, err := w.orc.StopTask(ctx, &stevedore.StopTaskInput{Cluster: w.cluster, Task: id, Reason: "benchmark"}); err != nil {
				return fmt.Errorf("stop task %s: %w", id, err)
			}
			returned := time.Now()
			stopped, err := w.status.wait(ctx, id, task.Stopped)
			if err != nil {
				return err
			}
			samples[i] = w.stopSampleOf(id, t0, returned, stopped)
			return nil
		})
	}
	require.NoError(w.b, g.Wait())
	return slices.Max(durations(samples, func(s stopSample) time.Duration { return s.total })), samples
}

// rawStart is one raw netns + create + start.
type rawStart struct {
	task   *rawTask
	secure bool // seccomp and no_new_privs
	total  time.Duration
	netns  time.Duration
	create time.Duration
	start  time.Duration
}

// rawStopSample is one raw stop.
type rawStopSample struct {
	total  time.Duration
	exit   time.Duration // Kill(SIGTERM) -> exit status received
	delete time.Duration // task and container (with snapshot) deleted
	netns  time.Duration // netns unmounted and removed
}

func (w *benchWorld) rawStartOne(secure bool) rawStart {
	w.b.Helper()
	ctx, cancel := w.waitCtx()
	defer cancel()
	s, err := w.raw.start(ctx, secure)
	require.NoError(w.b, err)
	return s
}

func (w *benchWorld) rawStop(t *rawTask) rawStopSample {
	w.b.Helper()
	ctx, cancel := w.waitCtx()
	defer cancel()
	s, err := w.raw.stop(ctx, t)
	require.NoError(w.b, err)
	return s
}

// rawStartMany starts n raw containers at once and returns the time until
// all of them were started, and each one's sample.
func (w *benchWorld) rawStartMany(n int, secure bool) (time.Duration, []rawStart) {
	w.b.Helper()
	ctx, cancel := w.waitCtx()
	defer cancel()
	samples := make([]rawStart, n)
	var g errgroup.Group
	t0 := time.Now()
	for i := range n {
		g.Go(func() error {
			var err error
			samples[i], err = w.raw.start(ctx, secure)
			return err
		})
	}
	err := g.Wait()
	d := time.Since(t0)
	require.NoError(w.b, err)
	return d, samples
}

// rawStopMany stops raw containers at once and returns the time until all
// were gone, and each one's sample.
func (w *benchWorld) rawStopMany(starts []rawStart) (time.Duration, []rawStopSample) {
	w.b.Helper()
	ctx, cancel := w.waitCtx()
	defer cancel()
	samples := make([]rawStopSample, len(starts))
	var g errgroup.Group
	t0 := time.Now()
	for i, s := range starts {
		g.Go(func() error {
			var err error
			samples[i], err = w.raw.stop(ctx, s.task)
			return err
		})
	}
	err := g.Wait()
	d := time.Since(t0)
	require.NoError(w.b, err)
	return d, samples
}

// cleanup stops every task and waits until it is STOPPED, closes the
// Orchestrator, removes the raw containers and namespaces left by a failed
// iteration, then checks that nothing is left (removing what is, and
// failing the benchmark).
func (w *benchWorld) cleanup() {
	b := w.b
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	if w.orc != nil {
		if err := w.stopEverything(ctx); err != nil {
			b.Errorf("clean-up: %v", err)
		}
		if err := w.orc.Close(); err != nil {
			b.Errorf("clean-up: close the Orchestrator: %v", err)
		}
	}
	if w.status != nil {
		w.status.close()
	}
	if w.store != nil {
		_ = w.store.Close()
	}
	if w.raw != nil {
		if err := w.raw.close(ctx); err != nil {
			b.Errorf("clean-up: raw client: %v", err)
		}
	}
	if w.rt != nil {
		cleanUpRuntime(ctx, b, w.rt)
	}
	if w.nw != nil {
		cleanUpNetwork(ctx, b, w.nw)
	}
	if w.instance != "" {
		dir := agentStateDir(w.instance)
		tasks, _ := filepath.Glob(filepath.Join(dir, "tasks", "*"))
		if len(tasks) > 0 {
			b.Errorf("clean-up: agent task directories left behind: %s", strings.Join(tasks, ", "))
		} else if err := os.RemoveAll(dir); err != nil {
			b.Errorf("clean-up: %v", err)
		}
	}
}

// stopEverything stops the cluster's tasks that are not STOPPED and waits
// for their STOPPED events.
func (w *benchWorld) stopEverything(ctx context.Context) error {
	arns, err := w.orc.AllTaskArns(ctx, &stevedore.ListTasksInput{Cluster: w.cluster})
	if err != nil && !errors.Is(err, stevedore.ErrNotFound) {
		return fmt.Errorf("list tasks: %w", err)
	}
	var errs []error
	for _, id := range idsOfARNs(arns) {
		if _, err := w.orc.StopTask(ctx, &stevedore.StopTaskInput{Cluster: w.cluster, Task: id, Reason: "benchmark clean-up"}); err != nil {
			errs = append(errs, fmt.Errorf("stop task %s: %w", id, err))
			continue
		}
		if _, err := w.status.wait(ctx, id, task.Stopped); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// statusLog records, from Orchestrator.Subscribe, when each task was first
// seen in each lastStatus, and lets goroutines wait for one.
type statusLog struct {
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	seen    map[string]map[task.Status]time.Time
	last    map[string]*task.Task
	changed chan struct{} // closed and replaced at every event
	ended   bool
}

// subscribeStatus starts recording o's task events.
func subscribeStatus(ctx context.Context, o *stevedore.Orchestrator) (*statusLog, error) {
	ctx, cancel := context.WithCancel(ctx)
	ch, err := o.Subscribe(ctx)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("subscribe: %w", err)
	}
	l := &statusLog{cancel: cancel, done: make(chan struct{}), seen: map[string]map[task.Status]time.Time{},
		last: map[string]*task.Task{}, changed: make(chan struct{})}
	go func() {
		defer close(l.done)
		for ev := range ch {
			if ev.Task != nil {
				l.record(ev.Task, time.Now())
			}
		}
		l.mu.Lock()
		l.ended = true
		close(l.changed)
		l.mu.Unlock()
	}()
	return l, nil
}

func (l *statusLog) record(t *task.Task, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	id := t.ID()
	if l.seen[id] == nil {
		l.seen[id] = map[task.Status]time.Time{}
	}
	if _, ok := l.seen[id][t.LastStatus]; !ok {
		l.seen[id][t.LastStatus] = at
	}
	l.last[id] = t
	close(l.changed)
	l.changed = make(chan struct{})
}

// wait returns when the event saying that task id reached status was
// received. Waiting for RUNNING fails when the task stops instead.
func (l *statusLog) wait(ctx context.Context, id string, status task.Status) (time.Time, error) {
	for {
		l.mu.Lock()
		at, ok := l.seen[id][status]
		_, stopped := l.seen[id][task.Stopped]
		last, ended, changed := l.last[id], l.ended, l.changed
		l.mu.Unlock()
		switch {
		case ok:
			return at, nil
		case stopped:
			return time.Time{}, fmt.Errorf("task %s stopped instead of reaching %s: %s: %s", id, status, last.StopCode, last.StoppedReason)
		case ended:
			return time.Time{}, fmt.Errorf("task %s: the event subscription ended before %s", id, status)
		}
		select {
		case <-ctx.Done():
			lastStatus := task.Status("none")
			if last != nil {
				lastStatus = last.LastStatus
			}
			return time.Time{}, fmt.Errorf("task %s: not %s in time (last status %s): %w", id, status, lastStatus, ctx.Err())
		case <-changed:
		}
	}
}

func (l *statusLog) close() {
	l.cancel()
	<-l.done
}

// span is when one stage of a task began and ended.
type span struct{ begin, end time.Time }

func (s span) ok() bool { return !s.begin.IsZero() && !s.end.IsZero() }

// spanLog records the first span of each stage of each task, as seen by
// timedRuntime and timedNetwork.
type spanLog struct {
	mu      sync.Mutex
	ctrTask map[string]string // container ID -> task ID
	spans   map[string]map[string]span
}

func newSpanLog() *spanLog {
	return &spanLog{ctrTask: map[string]string{}, spans: map[string]map[string]span{}}
}

func (l *spanLog) add(taskID, stage string, begin, end time.Time) {
	if taskID == "" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.spans[taskID] == nil {
		l.spans[taskID] = map[string]span{}
	}
	if _, ok := l.spans[taskID][stage]; !ok {
		l.spans[taskID][stage] = span{begin, end}
	}
}

func (l *spanLog) addContainer(containerID, stage string, begin, end time.Time) {
	l.mu.Lock()
	taskID := l.ctrTask[containerID]
	l.mu.Unlock()
	l.add(taskID, stage, begin, end)
}

func (l *spanLog) of(taskID string) map[string]span {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.spans[taskID])
}

// timedRuntime is the instance's runtime with the duration of Create,
// Start, Signal and Delete recorded by task.
type timedRuntime struct {
	runtime.Runtime
	spans *spanLog
}

func (r timedRuntime) Create(ctx context.Context, spec runtime.ContainerSpec) error {
	r.spans.mu.Lock()
	r.spans.ctrTask[spec.ID] = spec.Labels[agent.LabelTask]
	r.spans.mu.Unlock()
	begin := time.Now()
	err := r.Runtime.Create(ctx, spec)
	r.spans.addContainer(spec.ID, "create", begin, time.Now())
	return err
}

func (r timedRuntime) Start(ctx context.Context, id string) error {
	begin := time.Now()
	err := r.Runtime.Start(ctx, id)
	r.spans.addContainer(id, "start", begin, time.Now())
	return err
}

func (r timedRuntime) Signal(ctx context.Context, id string, sig syscall.Signal) error {
	begin := time.Now()
	err := r.Runtime.Signal(ctx, id, sig)
	r.spans.addContainer(id, "signal", begin, time.Now())
	return err
}

func (r timedRuntime) Delete(ctx context.Context, id string) error {
	begin := time.Now()
	err := r.Runtime.Delete(ctx, id)
	r.spans.addContainer(id, "delete", begin, time.Now())
	return err
}

// timedNetwork is the instance's network provider with the duration of
// Setup and Teardown recorded by task.
type timedNetwork struct {
	network.Provider
	spans *spanLog
}

func (n timedNetwork) Setup(ctx context.Context, req network.Request) (*network.Attachment, error) {
	begin := time.Now()
	att, err := n.Provider.Setup(ctx, req)
	n.spans.add(req.TaskID, "setup", begin, time.Now())
	return att, err
}

// Ready passes network.Readier on, so that Setup may defer its wait for
// forwarding (timed as its own stage).
func (n timedNetwork) Ready(ctx context.Context, taskID string) error {
	begin := time.Now()
	err := n.Provider.(network.Readier).Ready(ctx, taskID)
	n.spans.add(taskID, "ready", begin, time.Now())
	return err
}

func (n timedNetwork) Teardown(ctx context.Context, taskID string) error {
	begin := time.Now()
	err := n.Provider.Teardown(ctx, taskID)
	n.spans.add(taskID, "teardown", begin, time.Now())
	return err
}

// rawLauncher starts and stops the baseline's containers with plain
// containerd client calls, each in a network namespace it creates itself
// (unshare + bind mount, as network/netlinux does, without the veth, the
// address and the rest).
type rawLauncher struct {
	c           *client.Client
	ctx         context.Context // carries the namespace; outlives single waits
	snapshotter string
	netnsDir    string
	netnsPrefix string
	n           atomic.Int64

	mu   sync.Mutex
	live map[*rawTask]struct{}
}

// rawTask is one baseline container and what it holds.
type rawTask struct {
	id     string
	netns  string
	cont   client.Container
	task   client.Task
	exited <-chan client.ExitStatus
}

func newRawLauncher(ctx context.Context, ns, snapshotter string, cfg netlinux.Config) (*rawLauncher, error) {
	c, err := client.New(address, client.WithDefaultNamespace(ns))
	if err != nil {
		return nil, fmt.Errorf("raw client: connect to %s: %w", address, err)
	}
	if err := ensureSharedDir(cfg.NetNSDir); err != nil {
		c.Close()
		return nil, err
	}
	return &rawLauncher{
		c: c, ctx: namespaces.WithNamespace(ctx, ns), snapshotter: snapshotter, netnsDir: cfg.NetNSDir,
		// "stvi<nn>r<k>": under the package's leak-checked prefix, never
		// one of netlinux's object names (15 characters, hex after the
		// prefix "stvi<nn>-").
		netnsPrefix: strings.TrimSuffix(cfg.NamePrefix, "-") + "r",
		live:        map[*rawTask]struct{}{},
	}, nil
}

// start creates a netns, then the container (image lookup, snapshot, spec
// from the image config joining the netns) and its task, and starts it.
// With secure the spec also has what Stevedore's has on top of
// containerd's default spec: containerd's default seccomp profile and
// no_new_privs, so that the two sides pay for the same security.
func (r *rawLauncher) start(ctx context.Context, secure bool) (rawStart, error) {
	k := r.n.Add(1)
	t := &rawTask{id: fmt.Sprintf("raw-%d", k), netns: filepath.Join(r.netnsDir, fmt.Sprintf("%s%d", r.netnsPrefix, k))}
	r.mu.Lock()
	r.live[t] = struct{}{}
	r.mu.Unlock()
	ctx = namespaces.WithNamespace(ctx, namespaceOf(r.ctx))

	t0 := time.Now()
	if err := newNetNS(t.netns); err != nil {
		t.netns = ""
		return rawStart{}, err
	}
	t1 := time.Now()
	img, err := r.c.GetImage(ctx, imageRef)
	if err != nil {
		return rawStart{}, fmt.Errorf("raw: image %s: %w", imageRef, err)
	}
	t.cont, err = r.c.NewContainer(ctx, t.id,
		client.WithImage(img),
		client.WithSnapshotter(r.snapshotter),
		client.WithNewSnapshot(t.id, img),
		client.WithNewSpec(rawSpec(img, t.netns, secure)...),
		client.WithRuntime(containerd.DefaultRuntime, nil),
	)
	if err != nil {
		return rawStart{}, fmt.Errorf("raw: create %s: %w", t.id, err)
	}
	t2 := time.Now()
	tk, err := t.cont.NewTask(ctx, cio.NullIO)
	if err != nil {
		return rawStart{}, fmt.Errorf("raw: new task %s: %w", t.id, err)
	}
	t.task = tk
	// Wait before Start, on the launcher's context: the wait must outlive
	// this call.
	t.exited, err = tk.Wait(r.ctx)
	if err != nil {
		return rawStart{}, fmt.Errorf("raw: wait for %s: %w", t.id, err)
	}
	if err := tk.Start(ctx); err != nil {
		return rawStart{}, fmt.Errorf("raw: start %s: %w", t.id, err)
	}
	t3 := time.Now()
	return rawStart{task: t, secure: secure, total: t3.Sub(t0), netns: t1.Sub(t0), create: t2.Sub(t1), start: t3.Sub(t2)}, nil
}

// rawSpec is the raw side's container spec: the image's config, the idle
// script, the memory limit and the netns; with secure, the default
// seccomp profile and no_new_privs as well.
func rawSpec(img client.Image, netns string, secure bool) []oci.SpecOpts {
	opts := []oci.SpecOpts{oci.WithImageConfig(img),
		oci.WithProcessArgs("sh", "-c", idleScript),
		oci.WithMemoryLimit(benchMemoryMiB << 20),
		oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: netns})}
	if secure {
		opts = append(opts, oci.WithNoNewPrivileges, seccomp.WithDefaultProfile())
	}
	return opts
}

// stop sends SIGTERM, waits for the exit, deletes the task and the
// container with its snapshot, and deletes the netns.
func (r *rawLauncher) stop(ctx context.Context, t *rawTask) (rawStopSample, error) {
	ctx = namespaces.WithNamespace(ctx, namespaceOf(r.ctx))
	t0 := time.Now()
	if err := t.task.Kill(ctx, syscall.SIGTERM); err != nil {
		return rawStopSample{}, fmt.Errorf("raw: kill %s: %w", t.id, err)
	}
	// SIGKILL after the task definition's stopTimeout, as the agent does.
	kill := time.NewTimer(benchStopTimeout)
	defer kill.Stop()
	for exited := false; !exited; {
		select {
		case st := <-t.exited:
			if err := st.Error(); err != nil {
				return rawStopSample{}, fmt.Errorf("raw: exit of %s: %w", t.id, err)
			}
			exited = true
		case <-kill.C:
			if err := t.task.Kill(ctx, syscall.SIGKILL); err != nil && !errdefs.IsNotFound(err) {
				return rawStopSample{}, fmt.Errorf("raw: kill %s: %w", t.id, err)
			}
		case <-ctx.Done():
			return rawStopSample{}, fmt.Errorf("raw: %s did not exit: %w", t.id, ctx.Err())
		}
	}
	t1 := time.Now()
	if _, err := t.task.Delete(ctx); err != nil {
		return rawStopSample{}, fmt.Errorf("raw: delete task %s: %w", t.id, err)
	}
	t.task = nil
	if err := t.cont.Delete(ctx, client.WithSnapshotCleanup); err != nil {
		return rawStopSample{}, fmt.Errorf("raw: delete container %s: %w", t.id, err)
	}
	t.cont = nil
	t2 := time.Now()
	if err := deleteNetNSPath(t.netns); err != nil {
		return rawStopSample{}, err
	}
	t.netns = ""
	t3 := time.Now()
	r.mu.Lock()
	delete(r.live, t)
	r.mu.Unlock()
	return rawStopSample{total: t3.Sub(t0), exit: t1.Sub(t0), delete: t2.Sub(t1), netns: t3.Sub(t2)}, nil
}

// close removes whatever a failed iteration left, then closes the client.
func (r *rawLauncher) close(ctx context.Context) error {
	ctx = namespaces.WithNamespace(ctx, namespaceOf(r.ctx))
	var errs []error
	r.mu.Lock()
	defer r.mu.Unlock()
	for t := range r.live {
		if t.task != nil {
			if _, err := t.task.Delete(ctx, client.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("delete task %s: %w", t.id, err))
			}
		}
		if t.cont != nil {
			if err := t.cont.Delete(ctx, client.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("delete container %s: %w", t.id, err))
			}
		} else if c, err := r.c.LoadContainer(ctx, t.id); err == nil {
			// Created, but NewContainer's caller never saw it.
			if err := c.Delete(ctx, client.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("delete container %s: %w", t.id, err))
			}
		}
		if t.netns != "" {
			if err := deleteNetNSPath(t.netns); err != nil {
				errs = append(errs, err)
			}
		}
		delete(r.live, t)
	}
	errs = append(errs, r.c.Close())
	return errors.Join(errs...)
}

func namespaceOf(ctx context.Context) string {
	ns, _ := namespaces.Namespace(ctx)
	return ns
}

// newNetNS creates a network namespace bound at path, on an OS thread of
// its own that is never given back to the Go scheduler (the thread ends
// with its goroutine, so no other goroutine runs in the namespace).
func newNetNS(path string) error {
	errc := make(chan error, 1)
	go func() {
		goruntime.LockOSThread()
		errc <- func() error {
			f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
			if err != nil {
				return fmt.Errorf("raw: create netns file: %w", err)
			}
			f.Close()
			if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
				os.Remove(path)
				return fmt.Errorf("raw: unshare network namespace: %w", err)
			}
			if err := unix.Mount("/proc/thread-self/ns/net", path, "none", unix.MS_BIND, ""); err != nil {
				os.Remove(path)
				return fmt.Errorf("raw: bind-mount network namespace at %s: %w", path, err)
			}
			return nil
		}()
	}()
	return <-errc
}

// deleteNetNSPath unmounts and removes a namespace bound at path.
func deleteNetNSPath(path string) error {
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("raw: unmount netns %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("raw: remove netns %s: %w", path, err)
	}
	return nil
}

// ensureSharedDir makes dir a shared mount point, as `ip netns add` does,
// so that namespaces bound under it are visible to the shims.
func ensureSharedDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("raw: create %s: %w", dir, err)
	}
	err := unix.Mount("", dir, "none", unix.MS_SHARED|unix.MS_REC, "")
	if errors.Is(err, unix.EINVAL) {
		if err := unix.Mount(dir, dir, "none", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("raw: bind-mount %s onto itself: %w", dir, err)
		}
		err = unix.Mount("", dir, "none", unix.MS_SHARED|unix.MS_REC, "")
	}
	if err != nil {
		return fmt.Errorf("raw: make %s a shared mount: %w", dir, err)
	}
	return nil
}

// needIntegrationTB is needIntegration for benchmarks.
func needIntegrationTB(tb testing.TB) {
	tb.Helper()
	if skipReason == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		tb.Fatalf("CI=true but the integration benchmarks cannot run: %s", skipReason)
	}
	tb.Skip(skipReason)
}

// benchName is "bench-" and the benchmark's name as a lower-case
// identifier, at most 24 characters in all.
func benchName(b *testing.B) string {
	name := strings.TrimPrefix(b.Name(), "Benchmark")
	name = "bench-" + strings.Trim(nonName.ReplaceAllString(strings.ToLower(name), "-"), "-")
	if len(name) > 24 {
		name = strings.TrimRight(name[:24], "-")
	}
	return name
}

// stageColumn is one stage of a breakdown: its name and how to read it
// from a sample.
type stageColumn[S any] struct {
	name string
	get  func(S) time.Duration
}

// logStages logs, on one line (benchmark logs are cut after ten lines
// without -v), the p50 and p90 of each stage of the samples.
func logStages[S any](b *testing.B, title string, samples []S, columns []stageColumn[S]) {
	parts := make([]string, 0, len(columns))
	for _, c := range columns {
		d := durations(samples, c.get)
		parts = append(parts, fmt.Sprintf("%s %.1f (%.1f)", c.name, ms(percentile(d, 0.5)), ms(percentile(d, 0.9))))
	}
	b.Logf("%s, %d samples, ms p50 (p90): %s", title, len(samples), strings.Join(parts, " | "))
}

func durations[S any](samples []S, get func(S) time.Duration) []time.Duration {
	out := make([]time.Duration, len(samples))
	for i, s := range samples {
		out[i] = get(s)
	}
	return out
}

// reportPercentiles reports p50 and p90 of ds as <prefix>p50-ms and
// <prefix>p90-ms.
func reportPercentiles(b *testing.B, prefix string, ds []time.Duration) {
	b.ReportMetric(ms(percentile(ds, 0.5)), prefix+"p50-ms")
	b.ReportMetric(ms(percentile(ds, 0.9)), prefix+"p90-ms")
}

// percentile is the nearest-rank percentile p (0 < p <= 1) of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(ds))
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
