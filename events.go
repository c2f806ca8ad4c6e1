package stevedore

import (
	"context"
	"time"

	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/internal/subscription"
	"github.com/stevedore-io/stevedore/internal/supervisor"
	"github.com/stevedore-io/stevedore/service"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/task"
)

// EventType says what an Event is about.
type EventType string

// Event types, named after ECS's EventBridge detail types.
const (
	// EventTaskStateChange: a task was created or its lastStatus,
	// desiredStatus or health changed.
	EventTaskStateChange EventType = "ECS Task State Change"
	// EventServiceAction: a service event ("has reached a steady state").
	EventServiceAction EventType = "ECS Service Action"
	// EventDeploymentStateChange: a deployment started, completed or failed.
	EventDeploymentStateChange EventType = "ECS Deployment State Change"
	// EventInstanceStateChange: an instance registered, or its status or
	// agent connection changed.
	EventInstanceStateChange EventType = "ECS Container Instance State Change"
)

// Event is one thing that happened in the Orchestrator. Exactly one of Task,
// Deployment (with Service) or Instance is set, or Message for a service
// action.
type Event struct {
	Type     EventType
	Time     time.Time
	Cluster  string
	Revision int64
	// Task is a snapshot of the task after the change.
	Task *task.Task
	// Service names the service of a service action or deployment change.
	Service    string
	Message    string
	Deployment *service.Deployment
	Instance   *cluster.ContainerInstance
}

// Subscribe delivers every event from now on until ctx is done or the
// Orchestrator is closed; the channel is closed then. A subscriber that
// falls far behind is dropped: its channel closes early.
// Events of one object arrive in the order they happened.
func (o *Orchestrator) Subscribe(ctx context.Context) (<-chan Event, error) {
	f, err := store.Follow(ctx, o.store, store.FollowConfig{
		Options:   []store.WatchOption{store.WithKinds(state.KindTasks, state.KindServices, state.KindInstances)},
		MaxQueued: subscriberQueue,
	})
	if err != nil {
		return nil, err
	}
	out := make(chan Event, 256)
	// The subscription is a component of its own: Close ends it too.
	started := make(chan struct{})
	h := o.sup.Go("subscriber", supervisor.Func(func(sctx context.Context) error {
		close(started)
		subscription.Pump(ctx, sctx, f, translate, out)
		return nil
	}), -1)
	select {
	case <-started:
	case <-h.Done():
		select {
		case <-started: // ran, and ended already
		default: // closed meanwhile: nothing runs
			f.Close()
			return nil, ErrClosed
		}
	}
	return out, nil
}

// subscriberQueue is how many store changes a subscriber may fall behind
// before it is dropped.
const subscriberQueue = 1 << 16

// translate turns one store change into API events.
func translate(ev store.Event) []Event {
	switch obj := ev.Object.(type) {
	case *state.Task:
		prev, _ := ev.Prev.(*state.Task)
		if prev != nil && prev.LastStatus == obj.LastStatus && prev.DesiredStatus == obj.DesiredStatus &&
			prev.HealthStatus == obj.HealthStatus {
			return nil
		}
		return []Event{{Type: EventTaskStateChange, Time: subscription.TaskTime(obj.Task), Cluster: obj.ClusterName(),
			Revision: ev.Revision, Task: obj.Task.Clone()}}
	case *state.Service:
		prev, _ := ev.Prev.(*state.Service)
		var out []Event
		known := map[string]bool{}
		rollout := map[string]service.RolloutState{}
		if prev != nil {
			for _, e := range prev.Events {
				known[e.ID] = true
			}
			for _, d := range prev.Deployments {
				rollout[d.ID] = d.RolloutState
			}
		}
		for i := len(obj.Events) - 1; i >= 0; i-- {
			e := obj.Events[i]
			if !known[e.ID] {
				out = append(out, Event{Type: EventServiceAction, Time: e.CreatedAt, Cluster: obj.Cluster,
					Revision: ev.Revision, Service: obj.Name, Message: e.Message})
			}
		}
		for _, d := range obj.Deployments {
			if st, ok := rollout[d.ID]; !ok || st != d.RolloutState {
				d := d
				out = append(out, Event{Type: EventDeploymentStateChange, Time: d.UpdatedAt, Cluster: obj.Cluster,
					Revision: ev.Revision, Service: obj.Name, Deployment: &d})
			}
		}
		return out
	case *state.Instance:
		prev, _ := ev.Prev.(*state.Instance)
		if prev != nil && prev.Status == obj.Status && prev.AgentConnected == obj.AgentConnected {
			return nil
		}
		inst := obj.Clone()
		return []Event{{Type: EventInstanceStateChange, Time: time.Now(), Cluster: obj.Cluster,
			Revision: ev.Revision, Instance: &inst}}
	}
	return nil
}
