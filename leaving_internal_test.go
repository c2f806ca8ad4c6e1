package stevedore

import (
	"context"
	"log/slog"
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

// TestLeavingTaskIsNotTakenBackIn: once a task's deactivation began, an
// event about it from before (RUNNING, desired RUNNING) does not register
// it in its target group again.
func TestLeavingTaskIsNotTakenBackIn(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	o := &Orchestrator{log: slog.New(slog.DiscardHandler)}
	t.Cleanup(func() { cancel(); o.wg.Wait() })
	g := &countingGroup{registered: map[string]int{}}
	svc := &state.Service{Service: service.Service{Name: "web", Cluster: "test",
		LoadBalancers: []service.LoadBalancer{{TargetGroup: "web-tg", ContainerName: "app", ContainerPort: 8080}}}}
	s := &targetSync{groups: map[string]TargetGroup{"web-tg": g}, registered: map[string]map[string]string{},
		services: map[string]*state.Service{state.ServiceKey("test", "web"): svc},
		health:   newTargetHealth(), watches: map[string]map[string]context.CancelFunc{}, ctx: ctx}

	td, _, err := task.ParseDefinition([]byte(`{"family": "web", "networkMode": "awsvpc",
		"containerDefinitions": [{"name": "app", "image": "web", "memory": 16}]}`))
	require.NoError(t, err)
	running := func(id string) *state.Task {
		tk, err := task.NewTask("arn:aws:ecs:local:0:task/test/"+id, td, nil, time.Now())
		require.NoError(t, err)
		tk.ClusterARN, tk.DesiredStatus, tk.LastStatus = "test", task.Running, task.Running
		return &state.Task{Task: tk, ServiceName: "web",
			Network: &network.Attachment{TaskID: id, Mode: network.ModeAWSVPC, Address: netip.MustParsePrefix("10.0.0.2/24")}}
	}

	s.sync(o, running("a"))
	assert.Equal(t, 1, g.registered["a"], "a running task joins its group")

	o.leaving.Store("b", struct{}{})
	s.sync(o, running("b"))
	assert.Zero(t, g.registered["b"], "a leaving task does not")
}
