package stevedore_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/agent"
	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/internal/state"
	netfake "github.com/stevedore-io/stevedore/network/fake"
	"github.com/stevedore-io/stevedore/placement"
	"github.com/stevedore-io/stevedore/runtime"
	"github.com/stevedore-io/stevedore/runtime/fake"
	"github.com/stevedore-io/stevedore/service"
	"github.com/stevedore-io/stevedore/stevedoretest"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/memory"
	"github.com/stevedore-io/stevedore/task"
)

// The property test drives a whole Orchestrator (service controller, agents
// on fake runtimes and networks) through random scenarios under
// testing/synctest, and checks ECS's rolling-deployment bounds at every
// revision of the store:
//
//   - tasks RUNNING or PENDING (lastStatus PROVISIONING, PENDING, ACTIVATING
//     or RUNNING) never exceed floor(desired × maximumPercent / 100);
//   - healthy tasks (RUNNING, desired RUNNING, HEALTHY) are never taken below
//     ceil(desired × minimumHealthyPercent / 100) by the scheduler: only
//     failures (a crash, a failed health check, an instance lost) may do it;
//   - once failures stop, the service converges: steady, desired tasks
//     RUNNING and HEALTHY on the last revision (or on the deployment the
//     circuit breaker rolled back to).
//
// Each scenario comes from a seed; a failure prints the seed and the whole
// scenario. To replay one: go test -run 'TestPropertyServiceBounds/seed=7$'.
// Goroutines still interleave freely inside a bubble, so a seed fixes the
// scenario, not every schedule: a rare violation may need -count=N.
//
// The violations the property test found are shrunk to deterministic tests
// at the end of the file (TestPropertyStaleCacheStopsTooMany,
// TestPropertyStopsTaskThatJustTurnedHealthy,
// TestPropertyScaleInKeepsTheBestTasks); they use a store whose watch lags,
// which turns the controller's races into exact fake-time schedules.

// propertySeeds is how many random scenarios TestPropertyServiceBounds runs.
const propertySeeds = 30

func TestPropertyServiceBounds(t *testing.T) {
	t.Parallel()
	for seed := uint64(1); seed <= propertySeeds; seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			sc := newPropScenario(seed)
			synctest.Test(t, func(t *testing.T) { sc.run(t) })
		})
	}
}

// propRevKind is how the containers of a task-definition revision behave.
type propRevKind int

const (
	propGood      propRevKind = iota // passes its health checks, runs forever
	propUnhealthy                    // fails every health check
	propCrash                        // healthy, then exits after runFor
	propFlap                         // health checks fail for down out of every period
)

func (k propRevKind) String() string {
	return [...]string{"good", "unhealthy", "crash", "flap"}[k]
}

// propRevision is one task-definition revision of the scenario's family; its
// image web:<version> is scripted on every fake runtime.
type propRevision struct {
	version  string
	kind     propRevKind
	runFor   time.Duration // revCrash
	exitCode int           // revCrash
	period   time.Duration // revFlap
	down     time.Duration // revFlap
}

func (r propRevision) String() string {
	switch r.kind {
	case propCrash:
		return fmt.Sprintf("%s(crash after %v, exit %d)", r.version, r.runFor, r.exitCode)
	case propFlap:
		return fmt.Sprintf("%s(flap: unhealthy %v of every %v)", r.version, r.down, r.period)
	default:
		return fmt.Sprintf("%s(%s)", r.version, r.kind)
	}
}

func (r propRevision) behavior() (fake.Behavior, bool) {
	switch r.kind {
	case propUnhealthy:
		return fake.Behavior{Exec: fake.ExecCodes(1)}, true
	case propCrash:
		return fake.Behavior{RunFor: r.runFor, ExitCode: r.exitCode}, true
	case propFlap:
		period, down := r.period, r.down
		return fake.Behavior{Exec: func(c fake.ExecCall) fake.ExecReply {
			if c.Elapsed%period >= period-down {
				return fake.ExecReply{ExitCode: 1}
			}
			return fake.ExecReply{}
		}}, true
	}
	return fake.Behavior{}, false
}

type propStepKind int

func (k propStepKind) String() string {
	return [...]string{"update", "drain", "activate", "add", "lose", "crash"}[k]
}

const (
	propStepUpdate   propStepKind = iota // one or two UpdateService calls
	propStepDrain                        // an ACTIVE instance goes DRAINING
	propStepActivate                     // a DRAINING instance goes ACTIVE again
	propStepAdd                          // a new instance registers
	propStepLose                         // an instance dies: its containers are killed and it is deregistered
	propStepCrash                        // a running container of the service exits
)

// propUpdate is one UpdateService call: a new revision (rev >= 0), a new desired
// count (desired > 0), or both.
type propUpdate struct {
	rev     int
	desired int
}

func (u propUpdate) String() string {
	var parts []string
	if u.rev >= 0 {
		parts = append(parts, fmt.Sprintf("rev=%d", u.rev))
	}
	if u.desired > 0 {
		parts = append(parts, fmt.Sprintf("desired=%d", u.desired))
	}
	return "UpdateService(" + strings.Join(parts, ",") + ")"
}

type propStep struct {
	kind    propStepKind
	updates []propUpdate
	// parallel issues two updates from two goroutines at once rather than
	// back to back.
	parallel bool
	// pick chooses the target instance or container among the candidates
	// at the time the step runs (sorted by ID), modulo their number.
	pick int
	code int    // stepCrash: the exit code
	zone string // stepAdd
	// sleep is how much fake time passes after the step.
	sleep time.Duration
}

func (s propStep) String() string {
	var what string
	switch s.kind {
	case propStepUpdate:
		var us []string
		for _, u := range s.updates {
			us = append(us, u.String())
		}
		sep := " then "
		if s.parallel {
			sep = " || "
		}
		what = strings.Join(us, sep)
	case propStepDrain:
		what = fmt.Sprintf("drain(pick %d)", s.pick)
	case propStepActivate:
		what = fmt.Sprintf("activate(pick %d)", s.pick)
	case propStepAdd:
		what = "add instance in zone-" + s.zone
	case propStepLose:
		what = fmt.Sprintf("lose instance(pick %d)", s.pick)
	case propStepCrash:
		what = fmt.Sprintf("crash container(pick %d, exit %d)", s.pick, s.code)
	}
	return fmt.Sprintf("%s; sleep %v", what, s.sleep)
}

// propScenario is everything a seed decides.
type propScenario struct {
	seed    uint64
	zones   []string // one per initial instance; several may share one
	minPct  int
	maxPct  int
	breaker *service.CircuitBreaker
	// progress lists the desired counts at which a deployment can move
	// under minPct/maxPct; every desired count the scenario uses is one.
	progress  []int
	initial   int
	revisions []propRevision // 0 is the initial one, final the last good one
	steps     []propStep
	final     int
	// finalDesired is set with the final revision.
	finalDesired int
	// probe, when >= 0, is an unhealthy revision deployed after the service
	// converged on the final one: the circuit breaker must roll it back.
	probe int
}

func (sc *propScenario) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d: %d instances in zones %v; minimumHealthyPercent %d, maximumPercent %d, desired %d",
		sc.seed, len(sc.zones), sc.zones, sc.minPct, sc.maxPct, sc.initial)
	if sc.breaker != nil {
		fmt.Fprintf(&b, ", circuit breaker (rollback %v)", sc.breaker.Rollback)
	}
	fmt.Fprintf(&b, "\nrevisions:")
	for i, r := range sc.revisions {
		fmt.Fprintf(&b, " %d=%s", i, r)
	}
	for i, s := range sc.steps {
		fmt.Fprintf(&b, "\nstep %d: %s", i, s)
	}
	fmt.Fprintf(&b, "\nfinal: rev=%d desired=%d", sc.final, sc.finalDesired)
	if sc.probe >= 0 {
		fmt.Fprintf(&b, ", then rev=%d (must be rolled back)", sc.probe)
	}
	return b.String()
}

// propNoProgress reports whether a deployment of desired tasks is stuck under
// the percentages: it can neither start a task above the desired count nor
// stop one and stay at the minimum.
func propNoProgress(desired, minPct, maxPct int) bool {
	lo, hi := service.DeploymentConfiguration{MinimumHealthyPercent: &minPct, MaximumPercent: &maxPct}.Bounds(service.Replica, desired)
	return hi <= lo
}

func newPropScenario(seed uint64) *propScenario {
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed5eed5eed5eed))
	sc := &propScenario{seed: seed, probe: -1}
	zones := 1 + rng.IntN(3)
	for range 2 + rng.IntN(4) {
		sc.zones = append(sc.zones, string(rune('a'+rng.IntN(zones))))
	}
	for len(sc.progress) < 2 {
		sc.minPct, sc.maxPct = rng.IntN(101), 100+rng.IntN(101)
		sc.progress = sc.progress[:0]
		for d := 1; d <= 6; d++ {
			if !propNoProgress(d, sc.minPct, sc.maxPct) {
				sc.progress = append(sc.progress, d)
			}
		}
	}
	switch rng.IntN(3) {
	case 1:
		sc.breaker = &service.CircuitBreaker{Enable: true}
	case 2:
		sc.breaker = &service.CircuitBreaker{Enable: true, Rollback: true}
	}
	desired := func() int { return sc.progress[rng.IntN(len(sc.progress))] }
	sc.initial = desired()
	newRev := func(kind propRevKind) int {
		r := propRevision{version: fmt.Sprintf("v%d", len(sc.revisions)), kind: kind}
		switch kind {
		case propCrash:
			r.runFor = time.Duration(5+rng.IntN(120)) * time.Second
			r.exitCode = []int{0, 1, 2, 137}[rng.IntN(4)]
		case propFlap:
			r.period = time.Duration(30+rng.IntN(90)) * time.Second
			r.down = time.Duration(10+rng.IntN(20)) * time.Second
		}
		sc.revisions = append(sc.revisions, r)
		return len(sc.revisions) - 1
	}
	randomRev := func() int {
		switch n := rng.IntN(20); {
		case n < 10:
			return newRev(propGood)
		case n < 13:
			return newRev(propUnhealthy)
		case n < 16:
			return newRev(propCrash)
		default:
			return newRev(propFlap)
		}
	}
	newRev(propGood)
	randomUpdate := func() propUpdate {
		switch rng.IntN(3) {
		case 0:
			return propUpdate{rev: randomRev()}
		case 1:
			return propUpdate{rev: -1, desired: desired()}
		default:
			return propUpdate{rev: randomRev(), desired: desired()}
		}
	}
	sleep := func() time.Duration {
		switch rng.IntN(4) {
		case 0:
			return 0
		case 1:
			return time.Duration(1+rng.IntN(10)) * time.Second
		case 2:
			return time.Duration(10+rng.IntN(50)) * time.Second
		default:
			return time.Duration(60+rng.IntN(120)) * time.Second
		}
	}
	for range 6 + rng.IntN(7) {
		var s propStep
		switch n := rng.IntN(14); {
		case n < 4:
			s = propStep{kind: propStepUpdate, updates: []propUpdate{randomUpdate()}}
		case n < 6:
			s = propStep{kind: propStepUpdate, updates: []propUpdate{randomUpdate(), randomUpdate()}, parallel: rng.IntN(2) == 0}
		case n < 7:
			s = propStep{kind: propStepDrain, pick: rng.IntN(100)}
		case n < 8:
			s = propStep{kind: propStepActivate, pick: rng.IntN(100)}
		case n < 9:
			s = propStep{kind: propStepAdd, zone: string(rune('a' + rng.IntN(zones)))}
		case n < 10:
			s = propStep{kind: propStepLose, pick: rng.IntN(100)}
		default:
			s = propStep{kind: propStepCrash, pick: rng.IntN(100), code: []int{0, 1, 137}[rng.IntN(3)]}
		}
		s.sleep = sleep()
		sc.steps = append(sc.steps, s)
	}
	sc.final = newRev(propGood)
	sc.finalDesired = desired()
	if sc.breaker != nil && sc.breaker.Rollback && rng.IntN(2) == 0 {
		sc.probe = newRev(propUnhealthy)
	}
	return sc
}

// propRunner plays a scenario against an env.
type propRunner struct {
	t     *testing.T
	sc    *propScenario
	e     *env
	chk   *invariantChecker
	refs  []string
	insts map[string]cluster.InstanceStatus // instances not lost
	next  int                               // next instance number
	log   []string
}

func (sc *propScenario) run(t *testing.T) {
	var opts []fake.Option
	for _, r := range sc.revisions {
		if b, ok := r.behavior(); ok {
			opts = append(opts, fake.WithImage("web:"+r.version, b))
		}
	}
	e := newEnv(t, 0, opts...)
	r := &propRunner{t: t, sc: sc, e: e, insts: map[string]cluster.InstanceStatus{}}
	for _, z := range sc.zones {
		r.addInstance(z)
	}
	kinds := map[string]propRevKind{}
	for _, rev := range sc.revisions {
		ref := e.register(rev.version)
		r.refs = append(r.refs, ref)
		kinds[ref] = rev.kind
	}
	r.chk = watchInvariants(t, e, "web", kinds)
	defer r.report()

	_, err := e.o.CreateService(e.ctx, &stevedore.CreateServiceInput{
		Cluster: "test", ServiceName: "web", TaskDefinition: r.refs[0], DesiredCount: sc.initial,
		DeploymentConfiguration: service.DeploymentConfiguration{
			MinimumHealthyPercent: ptr(sc.minPct), MaximumPercent: ptr(sc.maxPct), CircuitBreaker: sc.breaker},
	})
	require.NoError(t, err)
	time.Sleep(time.Duration(sc.seed%4) * 20 * time.Second)
	synctest.Wait()

	for i, s := range sc.steps {
		r.logf("step %d at %s: %s; sleep %v", i, time.Now().Format("15:04:05"), r.do(s), s.sleep)
		time.Sleep(s.sleep)
		synctest.Wait()
	}

	// Failures stop here: the last revision is good, so the service must
	// converge on it.
	r.logf("final at %s", time.Now().Format("15:04:05"))
	r.update(propUpdate{rev: sc.final, desired: sc.finalDesired})
	s := r.converge()
	assert.Equal(t, r.refs[sc.final], s.TaskDefinition, "the service converged on the final revision")
	r.checkConverged(s)

	if sc.probe >= 0 {
		r.logf("probe at %s", time.Now().Format("15:04:05"))
		r.update(propUpdate{rev: sc.probe})
		s := r.converge()
		assert.Equal(t, r.refs[sc.final], s.TaskDefinition, "the circuit breaker rolled the unhealthy revision back")
		assert.True(t, slices.ContainsFunc(s.Events, func(ev service.Event) bool {
			return strings.Contains(ev.Message, "rolling back to deployment")
		}), "a rollback event")
		r.checkConverged(s)
	}
}

func (r *propRunner) logf(format string, args ...any) {
	r.log = append(r.log, fmt.Sprintf(format, args...))
}

// report prints the scenario and what went wrong, when something did.
func (r *propRunner) report() {
	violations, stats, err := r.chk.result()
	assert.NoError(r.t, err, "the invariant watch ended early")
	if len(violations) > 0 {
		shown := violations[:min(len(violations), 10)]
		r.t.Errorf("%d violations of the deployment bounds, first ones:\n%s", len(violations), strings.Join(shown, "\n"))
	}
	if r.t.Failed() {
		r.t.Logf("scenario %s\nrun:\n%s", r.sc, strings.Join(r.log, "\n"))
		if out, err := stevedoretest.ServicesOf(r.e.o.DescribeServices(r.e.ctx, &stevedore.DescribeServicesInput{Cluster: "test", Services: []string{"web"}})); err == nil && len(out) == 1 {
			evs := out[0].Events
			for i := len(evs) - 1; i >= 0; i-- {
				r.t.Logf("event %s %s", evs[i].CreatedAt.Format("15:04:05"), evs[i].Message)
			}
		}
	}
	r.t.Logf("checked %d revisions: %d healthy tasks lost to failures, %d stopped by the scheduler (%d times below the minimum through failures of the same instant), largest active count %d",
		stats.revisions, stats.failureLeaves, stats.scheduledLeaves, stats.excused, stats.maxActive)
}

func (r *propRunner) addInstance(zone string) string {
	id := fmt.Sprintf("i-%d", r.next)
	r.next++
	r.e.addInstance(id, zone)
	r.insts[id] = cluster.StatusActive
	return id
}

// withStatus lists the instances of a status, sorted.
func (r *propRunner) withStatus(st cluster.InstanceStatus) []string {
	var ids []string
	for id, s := range r.insts {
		if s == st {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

func (r *propRunner) update(u propUpdate) {
	r.t.Helper()
	require.NoError(r.t, r.tryUpdate(u))
}

func (r *propRunner) tryUpdate(u propUpdate) error {
	in := stevedore.UpdateServiceInput{Cluster: "test", Service: "web"}
	if u.rev >= 0 {
		in.TaskDefinition = &r.refs[u.rev]
	}
	if u.desired > 0 {
		in.DesiredCount = ptr(u.desired)
	}
	_, err := r.e.o.UpdateService(r.e.ctx, &in)
	return err
}

// do runs one step and says what it did.
func (r *propRunner) do(s propStep) string {
	t, e := r.t, r.e
	switch s.kind {
	case propStepUpdate:
		if s.parallel {
			errs := make([]error, len(s.updates))
			var wg sync.WaitGroup
			for i, u := range s.updates {
				wg.Go(func() { errs[i] = r.tryUpdate(u) })
			}
			wg.Wait()
			require.NoError(t, errors.Join(errs...))
		} else {
			for _, u := range s.updates {
				r.update(u)
			}
		}
		return strings.TrimSuffix(s.String(), fmt.Sprintf("; sleep %v", s.sleep))
	case propStepDrain, propStepLose:
		// Keep one ACTIVE instance: the service must be able to converge.
		active := r.withStatus(cluster.StatusActive)
		if len(active) < 2 {
			return "skipped (one ACTIVE instance left): " + s.kind.String()
		}
		id := active[s.pick%len(active)]
		if s.kind == propStepDrain {
			_, err := e.o.UpdateContainerInstancesState(e.ctx, &stevedore.UpdateContainerInstancesStateInput{Cluster: "test", Status: cluster.StatusDraining, ContainerInstances: []string{id}})
			require.NoError(t, err)
			r.insts[id] = cluster.StatusDraining
			return "drain " + id
		}
		// The host dies: its containers are killed, and the operator
		// deregisters the instance.
		r.chk.lose(id)
		e.runtimes[id].Close()
		_, err := e.o.DeregisterContainerInstance(e.ctx, &stevedore.DeregisterContainerInstanceInput{Cluster: "test", ContainerInstance: id, Force: true})
		require.NoError(t, err)
		delete(r.insts, id)
		return "lose " + id
	case propStepActivate:
		draining := r.withStatus(cluster.StatusDraining)
		if len(draining) == 0 {
			return "skipped (nothing DRAINING): " + s.kind.String()
		}
		id := draining[s.pick%len(draining)]
		_, err := e.o.UpdateContainerInstancesState(e.ctx, &stevedore.UpdateContainerInstancesStateInput{Cluster: "test", Status: cluster.StatusActive, ContainerInstances: []string{id}})
		require.NoError(t, err)
		r.insts[id] = cluster.StatusActive
		return "activate " + id
	case propStepAdd:
		return "add " + r.addInstance(s.zone) + " in zone-" + s.zone
	case propStepCrash:
		type target struct {
			rt       *fake.Runtime
			id, task string
		}
		var targets []target
		for _, inst := range slices.Sorted(maps.Keys(e.runtimes)) {
			if _, alive := r.insts[inst]; !alive {
				continue
			}
			rt := e.runtimes[inst]
			for _, c := range rt.Containers() {
				if c.Info.State == runtime.StateRunning {
					targets = append(targets, target{rt: rt, id: c.Spec.ID, task: c.Spec.Labels[agent.LabelTask]})
				}
			}
		}
		if len(targets) == 0 {
			return "skipped (no running container): " + s.kind.String()
		}
		tg := targets[s.pick%len(targets)]
		r.chk.hit(tg.task)
		if err := tg.rt.Exit(tg.id, s.code); err != nil && !errors.Is(err, runtime.ErrNotRunning) {
			require.NoError(t, err)
		}
		return fmt.Sprintf("crash %s (task %s) with exit %d", tg.id, tg.task, s.code)
	}
	t.Fatalf("unknown step %v", s)
	return ""
}

// propConvergeLimit is how much fake time a service gets to converge once
// failures stop. Throttled launches after tasks that failed to start wait up
// to service.MaxThrottleDelay, but a new deployment resets the throttle.
const propConvergeLimit = time.Hour

// converge waits until the service is steady, and makes sure it stays so.
func (r *propRunner) converge() service.Service {
	r.t.Helper()
	deadline := time.Now().Add(propConvergeLimit)
	for {
		synctest.Wait()
		if s := r.e.service("web"); s.Steady {
			break
		}
		if time.Now().After(deadline) {
			s := r.e.service("web")
			r.t.Fatalf("service not steady after %v: desired %d, running %d, pending %d, deployments %+v",
				propConvergeLimit, s.DesiredCount, s.RunningCount, s.PendingCount, s.Deployments)
		}
		time.Sleep(2 * time.Second)
	}
	// Nothing may move any more.
	time.Sleep(2 * time.Minute)
	synctest.Wait()
	s := r.e.service("web")
	require.True(r.t, s.Steady, "the service stays steady")
	return s
}

// checkConverged checks a steady service: one COMPLETED deployment, and
// exactly the desired tasks, RUNNING and HEALTHY on its task definition.
func (r *propRunner) checkConverged(s service.Service) {
	t := r.t
	t.Helper()
	assert.Equal(t, r.sc.finalDesired, s.DesiredCount)
	assert.Equal(t, s.DesiredCount, s.RunningCount)
	assert.Zero(t, s.PendingCount)
	if assert.Len(t, s.Deployments, 1) {
		assert.Equal(t, service.RolloutCompleted, s.Deployments[0].RolloutState)
		assert.Equal(t, s.TaskDefinition, s.Deployments[0].TaskDefinition)
	}
	tasks := r.e.tasks(stevedore.ListTasksInput{ServiceName: "web"})
	assert.Len(t, tasks, s.DesiredCount, "tasks desired RUNNING")
	for _, tk := range tasks {
		assert.Equal(t, task.Running, tk.LastStatus, "task %s", tk.ID())
		assert.Equal(t, task.Healthy, tk.HealthStatus, "task %s", tk.ID())
		assert.Equal(t, s.TaskDefinition, tk.TaskDefinitionRef(), "task %s", tk.ID())
		_, alive := r.insts[tk.ContainerInstanceID()]
		assert.True(t, alive, "task %s runs on instance %s, which was lost", tk.ID(), tk.ContainerInstanceID())
	}
}

// invariantChecker follows a service and its tasks through a watch of the
// Orchestrator's store and checks the deployment bounds after every
// revision.
//
// It watches the store rather than Subscribe: Subscribe reports no event for
// an UpdateService that only changes the desired count, so the revision at
// which a new bound comes into force would be unknown; in the store the
// service write and the task writes share one ordered history.
type invariantChecker struct {
	service string
	kinds   map[string]propRevKind // task definition ref -> behaviour

	mu    sync.Mutex
	tasks map[string]*state.Task
	svc   *service.Service
	// rev is the revision whose events are being gathered; at is the fake
	// time they were committed (time stands still in the bubble while the
	// watch delivers them).
	rev     int64
	at      time.Time
	pending bool
	// healthy is the healthy set after the last checked revision, active
	// its count of tasks RUNNING or PENDING.
	healthy map[string]bool
	active  int
	// ceiling is the most tasks that may be RUNNING or PENDING (see flush).
	ceiling int
	// failuresAt counts the healthy tasks lost to failures at fake instant
	// failuresInstant.
	failuresInstant time.Time
	failuresAt      int
	hits            map[string]bool // tasks whose container the test killed
	lost            map[string]bool // instances the test killed
	violations      []string
	stats           propStats
	err             error
}

type propStats struct {
	revisions       int
	failureLeaves   int
	scheduledLeaves int
	// excused counts revisions where the scheduler's stops left fewer
	// healthy tasks than the minimum, explained by failures of the same
	// instant that its cache had not seen yet.
	excused   int
	maxActive int
}

func watchInvariants(t *testing.T, e *env, serviceName string, kinds map[string]propRevKind) *invariantChecker {
	t.Helper()
	c := &invariantChecker{service: serviceName, kinds: kinds, tasks: map[string]*state.Task{},
		healthy: map[string]bool{}, hits: map[string]bool{}, lost: map[string]bool{}}
	ctx, cancel := context.WithCancel(context.Background())
	require.NotNil(t, e.store, "the env's store")
	w, err := store.ViewAndWatch(ctx, e.store, func(tx store.ReadTx) error {
		for _, kind := range []string{state.KindTasks, state.KindServices} {
			objs, err := tx.List(kind)
			if err != nil {
				return err
			}
			for _, obj := range objs {
				c.observe(obj)
			}
		}
		c.pending = true
		c.at = time.Now()
		return nil
	}, store.WithKinds(state.KindTasks, state.KindServices))
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range w.Events() {
			c.mu.Lock()
			if ev.Revision != c.rev {
				c.flush()
				c.rev, c.at = ev.Revision, time.Now()
			}
			c.pending = true
			if ev.Type == store.Deleted {
				if ev.Kind == state.KindTasks {
					delete(c.tasks, ev.ID)
				}
			} else {
				c.observe(ev.Object)
			}
			c.mu.Unlock()
		}
		if err := w.Err(); err != nil && !errors.Is(err, context.Canceled) {
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
		}
	}()
	t.Cleanup(func() { cancel(); <-done; w.Close() })
	return c
}

func (c *invariantChecker) observe(obj store.Object) {
	switch o := obj.(type) {
	case *state.Task:
		if o.ServiceName == c.service {
			c.tasks[o.ID()] = o
		}
	case *state.Service:
		if o.Name == c.service {
			c.svc = &o.Service
		}
	}
}

// hit records that the test is about to kill a task's container.
func (c *invariantChecker) hit(taskID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hits[taskID] = true
}

// lose records that the test is about to kill an instance.
func (c *invariantChecker) lose(instanceID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lost[instanceID] = true
}

// result checks the last revision and returns what was found. Call it
// after synctest.Wait, when the watch has delivered everything.
func (c *invariantChecker) result() ([]string, propStats, error) {
	synctest.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.flush()
	return slices.Clone(c.violations), c.stats, c.err
}

func (c *invariantChecker) violate(format string, args ...any) {
	c.violations = append(c.violations, fmt.Sprintf("revision %d at %s: ", c.rev, c.at.Format("15:04:05.000"))+fmt.Sprintf(format, args...))
}

// propHealthy is a task that counts towards minimumHealthyPercent.
func propHealthy(t *state.Task) bool {
	return t.LastStatus == task.Running && t.DesiredStatus == task.Running && t.HealthStatus == task.Healthy
}

// propActive is a task that counts towards maximumPercent.
func propActive(t *state.Task) bool {
	switch t.LastStatus {
	case task.Provisioning, task.Pending, task.Activating, task.Running:
		return true
	}
	return false
}

// propLeaveCause says why a task left the healthy set: "" when the scheduler
// stopped it for scaling or draining (bound by the minimum), else the
// failure.
func propLeaveCause(t *state.Task) string {
	switch {
	case t.StoppedForHealth:
		return "stopped for failing health checks"
	case t.DesiredStatus == task.Stopped && t.StopCode == task.ServiceSchedulerInitiated:
		return ""
	case t.DesiredStatus == task.Stopped:
		return string(t.StopCode) // EssentialContainerExited, TaskFailedToStart, TerminationNotice...
	case t.HealthStatus != task.Healthy:
		return "health " + string(t.HealthStatus)
	default:
		return "lastStatus " + string(t.LastStatus)
	}
}

// failure says whether cause (from propLeaveCause) is a failure, and whether the
// scenario explains it: the task's revision is scripted to fail, or the test
// killed the task's container or instance.
func (c *invariantChecker) failure(t *state.Task, cause string) (failure, explained bool) {
	if cause == "" {
		return false, true
	}
	explained = c.kinds[t.TaskDefinitionRef()] != propGood || c.hits[t.ID()] || c.lost[t.ContainerInstanceID()]
	return true, explained
}

// flush checks the revision gathered so far. Within one transaction the
// changes only stop or start tasks, so a revision checked in two parts
// (when the rest of its events come later) is never checked against a
// state that is not a prefix of it.
func (c *invariantChecker) flush() {
	if !c.pending {
		return
	}
	c.pending = false
	if c.svc == nil {
		return
	}
	c.stats.revisions++
	minHealthy, maxActive := c.svc.DeploymentConfiguration.Bounds(service.Replica, c.svc.DesiredCount)

	active := 0
	healthy := map[string]bool{}
	for id, t := range c.tasks {
		if propActive(t) {
			active++
		}
		if propHealthy(t) {
			healthy[id] = true
		}
	}
	c.stats.maxActive = max(c.stats.maxActive, active)

	// maximumPercent. The bound is the one of the desired count in force
	// at this revision. When the desired count falls, the tasks above the
	// new bound cannot vanish at once: they may stay until they stop, but
	// never grow back. So the ceiling is the new bound or, above it, the
	// lowest count seen since it fell (never above the count when it
	// fell). This is stricter than allowing the larger of the old and new
	// bounds for the whole transition, and it is what the planner
	// guarantees: it starts nothing while tasks RUNNING or PENDING are at
	// or above the bound, and only the controller creates tasks.
	c.ceiling = max(maxActive, min(c.ceiling, c.active))
	if active > c.ceiling {
		fell := ""
		if c.ceiling > maxActive {
			fell = fmt.Sprintf(" and above the %d tasks left since the desired count fell", c.ceiling)
		}
		c.violate("%d tasks RUNNING or PENDING, above floor(%d × %d%%) = %d%s: %s",
			active, c.svc.DesiredCount, propPct(c.svc.DeploymentConfiguration.MaximumPercent), maxActive, fell, c.describe())
	}
	c.active = active

	// minimumHealthyPercent. Healthy tasks leave the healthy set through
	// failures, which nothing bounds, or because the scheduler stopped
	// them (scaling in, an older deployment, a draining instance), which
	// it may do only while the minimum stays met. The scheduler plans on
	// a cache that can lag behind the store by the changes of the current
	// fake instant (time stands still until every loop has caught up), so
	// failures of this instant that it had not seen yet excuse as many
	// missing healthy tasks.
	if !c.at.Equal(c.failuresInstant) {
		c.failuresInstant, c.failuresAt = c.at, 0
	}
	excuse := c.failuresAt
	var scheduled []string
	for id := range c.healthy {
		if healthy[id] {
			continue
		}
		t := c.tasks[id]
		if t == nil {
			c.violate("healthy task %s vanished from the store", id)
			continue
		}
		cause := propLeaveCause(t)
		failure, explained := c.failure(t, cause)
		switch {
		case failure && explained:
			c.stats.failureLeaves++
			c.failuresAt++
		case failure:
			c.violate("healthy task %s of %s on %s failed without an injected cause: %s (%s)",
				id, t.TaskDefinitionRef(), t.ContainerInstanceID(), cause, t.StoppedReason)
		default:
			c.stats.scheduledLeaves++
			scheduled = append(scheduled, fmt.Sprintf("%s (%s: %s)", id, t.StopCode, t.StoppedReason))
		}
	}
	if len(scheduled) > 0 && len(healthy) < minHealthy && len(healthy) >= minHealthy-excuse {
		c.stats.excused++
	}
	if len(scheduled) > 0 && len(healthy) < minHealthy-excuse {
		c.violate("the scheduler stopped healthy tasks %v leaving %d healthy, below ceil(%d × %d%%) = %d (%d excused by failures of this instant): %s",
			scheduled, len(healthy), c.svc.DesiredCount, propPct(c.svc.DeploymentConfiguration.MinimumHealthyPercent), minHealthy, excuse, c.describe())
	}
	c.healthy = healthy
}

func propPct(p *int) int {
	if p == nil {
		return -1
	}
	return *p
}

// describe lists the service's live tasks, for violation messages.
func (c *invariantChecker) describe() string {
	var parts []string
	for _, id := range slices.Sorted(maps.Keys(c.tasks)) {
		t := c.tasks[id]
		if t.LastStatus == task.Stopped {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s[%s %s/%s %s %s]", id[:8], t.TaskDefinitionRef(), t.LastStatus, t.DesiredStatus, t.HealthStatus, t.ContainerInstanceID()))
	}
	return strings.Join(parts, " ")
}

// laggingStore delivers every watch event lag after its transaction
// committed, as a store replicated to other hosts (etcd) does; reads and
// writes are immediate. Under synctest the lag is exact, which makes a race
// between a loop's writes and its watch deterministic.
type laggingStore struct {
	store.Store
	lag time.Duration
}

func (s laggingStore) Watch(ctx context.Context, from int64, opts ...store.WatchOption) (store.Watcher, error) {
	inner, err := s.Store.Watch(ctx, from, opts...)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	w := &laggingWatcher{inner: inner, cancel: cancel, out: make(chan store.Event), done: make(chan struct{})}
	type stamped struct {
		ev store.Event
		at time.Time
	}
	queue := make(chan stamped, 1<<16)
	go func() {
		defer close(queue)
		for ev := range inner.Events() {
			queue <- stamped{ev, time.Now()}
		}
	}()
	go func() {
		defer close(w.done)
		defer close(w.out)
		for s2 := range queue {
			time.Sleep(time.Until(s2.at.Add(s.lag)))
			select {
			case w.out <- s2.ev:
			case <-ctx.Done():
				return
			}
		}
	}()
	return w, nil
}

type laggingWatcher struct {
	inner  store.Watcher
	cancel context.CancelFunc
	out    chan store.Event
	done   chan struct{}
}

func (w *laggingWatcher) Events() <-chan store.Event { return w.out }

func (w *laggingWatcher) Err() error {
	select {
	case <-w.done:
		return w.inner.Err()
	default:
		return nil
	}
}

func (w *laggingWatcher) Close() {
	w.cancel()
	w.inner.Close()
	<-w.done
}

// TestPropertyStaleCacheStopsTooMany is the smallest scenario the property
// test shrank to while the service controller planned on a cache that missed
// its own writes (fixed in d0fe54f: the controller now caches what it
// writes). Two task-definition updates half a second apart; the store's
// watch lags one second, so that the controller plans its second pass
// before the watch has brought back the stop it wrote in the first.
// Placement is made deterministic: binpack on memory, a big instance i-0
// registered first (task A), a small one i-1 that only fits one task (task
// B, started later, so the newest).
//
// With desired 2, minimumHealthyPercent 50 (at least 1 healthy) and
// maximumPercent 150 (at most 3), a controller that does not see its own
// stops did this:
//   - pass 1 (sees the first update; its transaction reads the service with
//     both): 2 healthy, budget 1, stops B; room 1, starts N on i-0;
//   - pass 2 (woken by the second update's event) still sees B desired
//     RUNNING and healthy: budget 1 again; i-0 now holds A and N, so A comes
//     first in the stop order, and A is stopped: 0 healthy tasks, below 1,
//     with no failure at all.
func TestPropertyStaleCacheStopsTooMany(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := propLagEnv(t, time.Second)
		o := e.o
		register := func(id string, memory int) {
			rt := fake.New()
			t.Cleanup(rt.Close)
			e.runtimes[id] = rt
			_, err := o.RegisterContainerInstance(e.ctx, &stevedore.RegisterContainerInstanceInput{
				Cluster: "test", InstanceID: id, Runtime: rt, Network: netfake.New(),
				Resources: cluster.Resources{CPU: 4096, Memory: memory, NetworkSlots: 10},
			})
			require.NoError(t, err)
		}
		register("i-0", 8192)
		v1, v2, v3 := e.register("v1"), e.register("v2"), e.register("v3")
		_, err := o.CreateService(e.ctx, &stevedore.CreateServiceInput{
			Cluster: "test", ServiceName: "web", TaskDefinition: v1, DesiredCount: 1,
			PlacementStrategy:       []placement.StrategySpec{placement.Binpack("memory")},
			DeploymentConfiguration: service.DeploymentConfiguration{MinimumHealthyPercent: ptr(50), MaximumPercent: ptr(150)},
		})
		require.NoError(t, err)
		e.waitSteady("web", 5*time.Minute)
		register("i-1", 256)
		_, err = o.UpdateService(e.ctx, &stevedore.UpdateServiceInput{Cluster: "test", Service: "web", DesiredCount: ptr(2)})
		require.NoError(t, err)
		e.waitSteady("web", 5*time.Minute)
		perInstance := map[string]int{}
		for _, tk := range e.tasks(stevedore.ListTasksInput{ServiceName: "web"}) {
			perInstance[tk.ContainerInstanceID()]++
		}
		require.Equal(t, map[string]int{"i-0": 1, "i-1": 1}, perInstance)

		chk := watchInvariants(t, e, "web", map[string]propRevKind{})
		synctest.Wait()
		_, err = o.UpdateService(e.ctx, &stevedore.UpdateServiceInput{Cluster: "test", Service: "web", TaskDefinition: &v2})
		require.NoError(t, err)
		time.Sleep(500 * time.Millisecond)
		_, err = o.UpdateService(e.ctx, &stevedore.UpdateServiceInput{Cluster: "test", Service: "web", TaskDefinition: &v3})
		require.NoError(t, err)
		e.waitSteady("web", 10*time.Minute)
		violations, stats, err := chk.result()
		require.NoError(t, err)
		assert.Empty(t, violations, "healthy tasks below minimumHealthyPercent without a failure")
		assert.Zero(t, stats.failureLeaves)
	})
}

// propLagEnv is an env without instances whose store delivers watch events
// lag late.
func propLagEnv(t *testing.T, lag time.Duration, opts ...fake.Option) *env {
	t.Helper()
	st, err := memory.New()
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	lagging := laggingStore{Store: st, lag: lag}
	o, err := stevedore.New(stevedore.WithSeed(1), stevedore.WithStore(lagging))
	require.NoError(t, err)
	e := envFor(t, o, 0, opts...)
	e.store = lagging
	return e
}

// propScale sets the service's desired count and returns the task it starts.
func propScale(e *env, desired int) *task.Task {
	e.t.Helper()
	known := map[string]bool{}
	for _, tk := range e.tasks(stevedore.ListTasksInput{ServiceName: "web"}) {
		known[tk.ID()] = true
	}
	_, err := e.o.UpdateService(e.ctx, &stevedore.UpdateServiceInput{Cluster: "test", Service: "web", DesiredCount: ptr(desired)})
	require.NoError(e.t, err)
	for range 100 {
		time.Sleep(100 * time.Millisecond)
		for _, tk := range e.tasks(stevedore.ListTasksInput{ServiceName: "web"}) {
			if !known[tk.ID()] {
				return tk
			}
		}
	}
	e.t.Fatalf("no task started after scaling to %d", desired)
	return nil
}

// propContainerStarted waits until the container of task tk runs on instance and
// returns when it started.
func propContainerStarted(e *env, instance string, tk *task.Task) time.Time {
	e.t.Helper()
	for range 100 {
		if c, ok := e.runtimes[instance].Container(agent.ContainerID(tk.ID(), "app")); ok && c.Info.State == runtime.StateRunning {
			return c.Info.StartedAt
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.t.Fatalf("the container of task %s does not run", tk.ID())
	return time.Time{}
}

func propHealth(e *env, tk *task.Task) task.HealthStatus {
	e.t.Helper()
	got, err := stevedoretest.TasksOf(e.o.DescribeTasks(e.ctx, &stevedore.DescribeTasksInput{Cluster: "test", Tasks: []string{tk.ID()}}))
	require.NoError(e.t, err)
	return got[0].HealthStatus
}

// TestPropertyStopsTaskThatJustTurnedHealthy is the second violation the
// property test found (seed 154 under -race, about one run in ten), made
// deterministic: the service controller plans on its cache and applies the
// plan in a transaction without checking it against the tasks the
// transaction reads. A surplus task that is not healthy yet is stopped at
// once, outside the minimumHealthyPercent budget; when the task turned
// HEALTHY after the controller's cache was read but before its
// transaction, a HEALTHY task is stopped, and healthy tasks fall below the
// minimum without any failure.
//
// The store's watch lags one second. Desired 2 at 100%/200%: A is HEALTHY,
// O has just started. Half a second before O's first health check, a new
// task definition is deployed. The controller sees the deployment before
// O's HEALTHY: O is surplus (older deployment) and, in its cache, not
// healthy, so it is stopped at once although the store says HEALTHY. That
// leaves A alone healthy, below 2.
//
// It fails until the controller plans, inside its write transaction, on the
// tasks as the transaction reads them (or checks each planned stop against
// the task it reads there). Refreshing the service's cached tasks from the
// transaction before planning in applyPlan makes it pass (tried on a copy).
func TestPropertyStopsTaskThatJustTurnedHealthy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := propLagEnv(t, time.Second)
		e.addInstance("i-0", "a")
		v1, v2 := e.register("v1"), e.register("v2")
		_, err := e.o.CreateService(e.ctx, &stevedore.CreateServiceInput{
			Cluster: "test", ServiceName: "web", TaskDefinition: v1, DesiredCount: 1,
			DeploymentConfiguration: service.DeploymentConfiguration{MinimumHealthyPercent: ptr(100), MaximumPercent: ptr(200)},
		})
		require.NoError(t, err)
		e.waitSteady("web", 5*time.Minute)

		chk := watchInvariants(t, e, "web", map[string]propRevKind{})
		o := propScale(e, 2)
		started := propContainerStarted(e, "i-0", o)
		// The first health check runs one interval (5 s) after the start.
		time.Sleep(time.Until(started.Add(4500 * time.Millisecond)))
		require.Equal(t, task.HealthUnknown, propHealth(e, o), "O is not healthy yet")
		_, err = e.o.UpdateService(e.ctx, &stevedore.UpdateServiceInput{Cluster: "test", Service: "web", TaskDefinition: &v2})
		require.NoError(t, err)
		time.Sleep(time.Second)
		require.Equal(t, task.Healthy, propHealth(e, o), "O turned healthy before the controller acted")
		e.waitSteady("web", 10*time.Minute)

		violations, _, err := chk.result()
		require.NoError(t, err)
		assert.Empty(t, violations, "healthy tasks below minimumHealthyPercent without a failure")
	})
}

// startPeriodDef has a long startPeriod: a container whose checks fail stays
// UNKNOWN for five minutes instead of turning UNHEALTHY.
const startPeriodDef = `{
  "family": "web",
  "networkMode": "awsvpc",
  "containerDefinitions": [{
    "name": "app",
    "image": "web:v1",
    "memory": 256,
    "cpu": 128,
    "command": ["sleep", "infinity"],
    "healthCheck": {"command": ["CMD-SHELL", "true"], "interval": 5, "timeout": 2, "retries": 2, "startPeriod": 300}
  }]
}`

// TestPropertyScaleInKeepsTheBestTasks: when a service has more tasks of its
// primary deployment than desired, the planner sorts them with stopOrder
// (cheapest to lose first: not running, unhealthy, on a draining instance,
// on a crowded instance, newest) and then keeps the first desired ones and
// makes the rest surplus: the cheapest are kept and the most valuable are
// offered for stopping (service/planner.go, replica: "keep[desired:]").
//
// Desired 2 at 100%/200%: A HEALTHY (oldest), B RUNNING and UNKNOWN (its
// checks fail inside a five-minute startPeriod), C HEALTHY (newest). Scaled
// in from 3 to 2, B is the one to stop, at once: it is not healthy. The
// planner makes A surplus instead; A is healthy and the minimum (2) leaves
// no budget, so nothing stops, and the service stays at 3 tasks and not
// steady until B's startPeriod ends and it turns UNHEALTHY.
//
// It fails until the planner makes the first len(keep)-desired tasks of the
// stop order surplus (not keep[desired:]) and stopOrder ranks a RUNNING task
// that does not count as healthy (UNKNOWN) before the healthy ones; with
// only the first change C, the newest, is offered instead of B and is
// blocked by the minimum in the same way. Both changes together make it
// pass, and service's tests still pass (tried on a copy).
func TestPropertyScaleInKeepsTheBestTasks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		failing := map[string]bool{} // container IDs whose checks fail
		script := fake.Behavior{Exec: func(c fake.ExecCall) fake.ExecReply {
			mu.Lock()
			defer mu.Unlock()
			if failing[c.ID] {
				return fake.ExecReply{ExitCode: 1}
			}
			return fake.ExecReply{}
		}}
		e := newEnv(t, 0, fake.WithImage("web:v1", script))
		e.addInstance("i-0", "a")
		td, _, err := task.ParseDefinition([]byte(startPeriodDef))
		require.NoError(t, err)
		def, err := e.o.RegisterTaskDefinition(e.ctx, &stevedore.RegisterTaskDefinitionInput{TaskDefinition: *td})
		require.NoError(t, err)
		_, err = e.o.CreateService(e.ctx, &stevedore.CreateServiceInput{
			Cluster: "test", ServiceName: "web", TaskDefinition: def.TaskDefinition.Ref(), DesiredCount: 1,
			DeploymentConfiguration: service.DeploymentConfiguration{MinimumHealthyPercent: ptr(100), MaximumPercent: ptr(200)},
		})
		require.NoError(t, err)
		e.waitSteady("web", 5*time.Minute)

		b := propScale(e, 2)
		mu.Lock()
		failing[agent.ContainerID(b.ID(), "app")] = true
		mu.Unlock()
		time.Sleep(30 * time.Second)
		require.Equal(t, task.HealthUnknown, propHealth(e, b), "B's failures fall in its startPeriod")
		c := propScale(e, 3)
		time.Sleep(30 * time.Second)
		require.Equal(t, task.Healthy, propHealth(e, c))

		_, err = e.o.UpdateService(e.ctx, &stevedore.UpdateServiceInput{Cluster: "test", Service: "web", DesiredCount: ptr(2)})
		require.NoError(t, err)
		time.Sleep(time.Minute)
		synctest.Wait()
		var ids []string
		for _, tk := range e.tasks(stevedore.ListTasksInput{ServiceName: "web"}) {
			ids = append(ids, tk.ID())
		}
		assert.NotContains(t, ids, b.ID(), "the task that is not healthy is the one scaled in")
		assert.Len(t, ids, 2)
		assert.True(t, e.service("web").Steady, "steady a minute after the scale-in")
	})
}
