package targets

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/lb"
	"github.com/stevedore-io/stevedore/network"
	"github.com/stevedore-io/stevedore/service"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/memory"
	"github.com/stevedore-io/stevedore/task"
)

// countingGroup counts registrations; its targets are healthy at once.
type countingGroup struct {
	mu         sync.Mutex
	registered map[string]int
}

func (g *countingGroup) Name() string { return "web-tg" }
func (g *countingGroup) Register(t lb.Target) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.registered[t.ID]++
	return nil
}
func (g *countingGroup) Deregister(string) error { return nil }
func (g *countingGroup) Health(string) lb.TargetHealth {
	return lb.TargetHealth{State: lb.StateHealthy}
}
func (g *countingGroup) WaitState(ctx context.Context, _ string, _ ...lb.TargetState) (lb.TargetHealth, error) {
	<-ctx.Done()
	return lb.TargetHealth{}, ctx.Err()
}
func (g *countingGroup) DeregistrationDelay() time.Duration { return 0 }

// TestDeactivatingTaskLeavesAndIsMarkedDrained: a task that reached
// DEACTIVATING is not registered (again), and the drain's deadline is
// stored for the agent.
func TestDeactivatingTaskLeavesAndIsMarkedDrained(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	st, err := memory.New()
	require.NoError(t, err)
	g := &countingGroup{registered: map[string]int{}}
	s, err := New(Config{Store: st, Groups: map[string]Group{"web-tg": g}})
	require.NoError(t, err)
	t.Cleanup(func() { cancel(); s.wg.Wait(); require.NoError(t, st.Close()) })
	svc := &state.Service{Service: service.Service{Name: "web", Cluster: "test",
		LoadBalancers: []service.LoadBalancer{{TargetGroup: "web-tg", ContainerName: "app", ContainerPort: 8080}}}}
	s.services = map[string]*state.Service{state.ServiceKey("test", "web"): svc}
	s.registered, s.draining, s.ctx = map[string]map[string]string{}, map[string]bool{}, ctx
	s.health, s.watches = newTargetHealth(), map[string]map[string]context.CancelFunc{}

	td, _, err := task.ParseDefinition([]byte(`{"family": "web", "networkMode": "awsvpc",
		"containerDefinitions": [{"name": "app", "image": "web", "memory": 16}]}`))
	require.NoError(t, err)
	build := func(id string, last task.Status) *state.Task {
		tk, err := task.NewTask("arn:aws:ecs:local:0:task/test/"+id, td, nil, time.Now())
		require.NoError(t, err)
		tk.ClusterARN, tk.DesiredStatus, tk.LastStatus = "test", task.Running, last
		return &state.Task{Task: tk, ServiceName: "web", Drain: &state.Drain{By: []string{state.DrainTargets}},
			Network: &network.Attachment{TaskID: id, Mode: network.ModeAWSVPC, Address: netip.MustParsePrefix("10.0.0.2/24")}}
	}

	s.sync(build("a", task.Running))
	assert.Equal(t, 1, g.registered["a"], "a running task joins its group")

	b := build("b", task.Deactivating)
	require.NoError(t, st.Update(ctx, func(tx store.Tx) error { return tx.Create(b) }))
	s.sync(b)
	assert.Zero(t, g.registered["b"], "a deactivating task does not")
	require.NoError(t, st.View(ctx, func(tx store.ReadTx) error {
		got, err := store.Get[*state.Task](tx, state.KindTasks, b.ID())
		require.NoError(t, err)
		assert.Equal(t, drainSlack, time.Until(got.Drain.Deadline).Round(time.Second),
			"the drain waits for the group, bounded by its delay (0) and the slack")
		return nil
	}))
}
