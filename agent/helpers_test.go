package agent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/agent"
	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/internal/state"
	netfake "github.com/stevedore-io/stevedore/network/fake"
	"github.com/stevedore-io/stevedore/runtime/fake"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/memory"
	"github.com/stevedore-io/stevedore/task"
)

const instanceID = "i-1"

// registered is the capacity of the test instance.
var registered = cluster.Resources{CPU: 4096, Memory: 8192, NetworkSlots: 10}

// env is a store with one instance, a fake runtime and a fake network, for
// tests that run inside a synctest bubble.
type env struct {
	t     *testing.T
	ctx   context.Context
	store *memory.Store
	rt    *fake.Runtime
	net   *netfake.Provider
	cfg   agent.Config
}

func newEnv(t *testing.T, opts ...fake.Option) *env {
	t.Helper()
	s, err := memory.New()
	require.NoError(t, err)
	rt := fake.New(opts...)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() {
		cancel()
		rt.Close()
		require.NoError(t, s.Close())
	})
	e := &env{t: t, ctx: ctx, store: s, rt: rt, net: netfake.New()}
	e.cfg = agent.Config{
		InstanceID: instanceID,
		Store:      s,
		Runtime:    rt,
		Network:    e.net,
		StateDir:   t.TempDir(),
	}
	ci, err := cluster.NewContainerInstance(instanceID, registered, time.Now())
	require.NoError(t, err)
	ci.Cluster = "test"
	ci.AgentConnected = false
	require.NoError(t, s.Update(ctx, func(tx store.Tx) error {
		return tx.Create(&state.Instance{ContainerInstance: ci})
	}))
	return e
}

// register stores a task definition (JSON) as revision 1 of its family and
// returns its reference.
func (e *env) register(def string) string {
	e.t.Helper()
	td, _, err := task.ParseDefinition([]byte(def))
	require.NoError(e.t, err)
	require.NoError(e.t, td.Validate())
	td.Revision = 1
	td.Status = task.DefinitionActive
	require.NoError(e.t, e.store.Update(e.ctx, func(tx store.Tx) error {
		return tx.Create(&state.TaskDefinition{TaskDefinition: td})
	}))
	return td.Ref()
}

// runTask places a task of ref on the instance as the control plane does:
// PROVISIONING, desired RUNNING, its resources reserved on the instance.
func (e *env) runTask(ref, id string) {
	e.t.Helper()
	e.runTaskWith(ref, id, nil)
}

// runTaskWith is runTask for a task that changes builds further.
func (e *env) runTaskWith(ref, id string, change func(*state.Task)) {
	e.t.Helper()
	require.NoError(e.t, e.store.Update(e.ctx, func(tx store.Tx) error {
		return placeTask(tx, ref, id, change)
	}))
}

// runTasks places tasks of ref on the instance in one transaction, as a
// burst arrives.
func (e *env) runTasks(ref string, ids ...string) {
	e.t.Helper()
	require.NoError(e.t, e.store.Update(e.ctx, func(tx store.Tx) error {
		for _, id := range ids {
			if err := placeTask(tx, ref, id, nil); err != nil {
				return err
			}
		}
		return nil
	}))
}

// placeTask writes in tx the task id of ref on the instance, changed by
// change if it is not nil.
func placeTask(tx store.Tx, ref, id string, change func(*state.Task)) error {
	def, err := store.Get[*state.TaskDefinition](tx, state.KindTaskDefinitions, ref)
	if err != nil {
		return err
	}
	tk, err := task.NewTask("arn:stevedore:ecs:local:task/test/"+id, def.TaskDefinition, nil, time.Now())
	if err != nil {
		return err
	}
	tk.ClusterARN = "test"
	tk.ContainerInstanceARN = instanceID
	tk.Group = "family:" + def.Family
	cpu, mem := def.Requirements()
	reserved := cluster.Resources{CPU: cpu, Memory: mem}
	inst, err := store.Get[*state.Instance](tx, state.KindInstances, instanceID)
	if err != nil {
		return err
	}
	next := inst.Copy()
	if err := next.AddTask(tk.Group, reserved); err != nil {
		return err
	}
	if err := tx.Update(next); err != nil {
		return err
	}
	st := &state.Task{Task: tk, Reserved: reserved}
	if change != nil {
		change(st)
	}
	return tx.Create(st)
}

// stopTask sets desired STOPPED as the control plane does.
func (e *env) stopTask(id, reason string) {
	e.t.Helper()
	require.NoError(e.t, e.store.Update(e.ctx, func(tx store.Tx) error {
		cur, err := store.Get[*state.Task](tx, state.KindTasks, id)
		if err != nil {
			return err
		}
		next := cur.Copy()
		next.Stop(task.UserInitiated, reason, time.Now())
		return tx.Update(next)
	}))
}

func (e *env) task(id string) *state.Task {
	e.t.Helper()
	var out *state.Task
	require.NoError(e.t, e.store.View(e.ctx, func(tx store.ReadTx) error {
		var err error
		out, err = store.Get[*state.Task](tx, state.KindTasks, id)
		return err
	}))
	return out
}

func (e *env) instance() *state.Instance {
	e.t.Helper()
	var out *state.Instance
	require.NoError(e.t, e.store.View(e.ctx, func(tx store.ReadTx) error {
		var err error
		out, err = store.Get[*state.Instance](tx, state.KindInstances, instanceID)
		return err
	}))
	return out
}

// running is an agent started by start.
type running struct {
	cancel context.CancelFunc
	done   chan error
}

// start runs a new agent on the environment until stop is called (or the
// test ends).
func (e *env) start() *running {
	e.t.Helper()
	a, err := agent.New(e.cfg)
	require.NoError(e.t, err)
	ctx, cancel := context.WithCancel(e.ctx)
	r := &running{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- a.Run(ctx) }()
	e.t.Cleanup(func() { r.stop() })
	synctest.Wait()
	return r
}

// stop cancels the agent and returns what Run returned.
func (r *running) stop() error {
	r.cancel()
	err, ok := <-r.done
	if ok {
		close(r.done)
	}
	return err
}

// advance lets fake time pass and waits until every goroutine is blocked.
func advance(d time.Duration) {
	time.Sleep(d)
	synctest.Wait()
}

// history returns every event the store committed so far.
func (e *env) history() []store.Event {
	e.t.Helper()
	var rev int64
	require.NoError(e.t, e.store.View(e.ctx, func(tx store.ReadTx) error {
		rev = tx.Revision()
		return nil
	}))
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	w, err := e.store.Watch(ctx, 0)
	require.NoError(e.t, err)
	defer w.Close()
	var out []store.Event
	for rev > 0 {
		ev := <-w.Events()
		out = append(out, ev)
		if ev.Revision < rev {
			continue
		}
		// The last transaction may hold more events.
		for {
			synctest.Wait()
			select {
			case ev := <-w.Events():
				out = append(out, ev)
				continue
			default:
			}
			return out
		}
	}
	return out
}

// statuses returns the lastStatus values task id went through, as written
// to the store.
func (e *env) statuses(id string) []task.Status {
	var out []task.Status
	for _, ev := range e.history() {
		if t, ok := ev.Object.(*state.Task); ok && ev.ID == id {
			if len(out) == 0 || out[len(out)-1] != t.LastStatus {
				out = append(out, t.LastStatus)
			}
		}
	}
	return out
}

// healths returns the health values of container name of task id (task
// health when name is empty), as written to the store.
func (e *env) healths(id, name string) []task.HealthStatus {
	var out []task.HealthStatus
	for _, ev := range e.history() {
		t, ok := ev.Object.(*state.Task)
		if !ok || ev.ID != id {
			continue
		}
		h := t.HealthStatus
		if name != "" {
			h = t.Container(name).HealthStatus
		}
		if len(out) == 0 || out[len(out)-1] != h {
			out = append(out, h)
		}
	}
	return out
}

// starts returns the container IDs in the order Start was called, with the
// time of each call since t0.
func (e *env) starts(t0 time.Time) []string {
	var out []string
	for _, c := range e.rt.CallsTo(fake.MethodStart) {
		out = append(out, fmt.Sprintf("%s@%v", strings.TrimPrefix(c.ID, "t1-"), c.Time.Sub(t0)))
	}
	return out
}

// storedJSON marshals every object the store ever held.
func (e *env) storedJSON() string {
	e.t.Helper()
	var b strings.Builder
	for _, ev := range e.history() {
		for _, obj := range []store.Object{ev.Object, ev.Prev} {
			if obj == nil {
				continue
			}
			js, err := json.Marshal(obj)
			require.NoError(e.t, err)
			b.Write(js)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

func ptr[T any](v T) *T { return &v }

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }
