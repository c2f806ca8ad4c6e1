package subscription

import (
	"github.com/stevedore-io/stevedore/api"
	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/service"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/task"
)

// Translator turns store changes into API events, showing each object as
// the API's Describe calls show it.
type Translator struct {
	// DescribeTask is the task as DescribeTasks shows it (its ARNs in the
	// API's form, its network attachment in ECS's); the stored task when
	// nil.
	DescribeTask func(*state.Task) *task.Task
}

// Translate turns one store change into API events.
func (tr Translator) Translate(ev store.Event) []api.Event {
	switch obj := ev.Object.(type) {
	case *state.Task:
		prev, _ := ev.Prev.(*state.Task)
		if prev != nil && prev.LastStatus == obj.LastStatus && prev.DesiredStatus == obj.DesiredStatus &&
			prev.HealthStatus == obj.HealthStatus {
			return nil
		}
		shown := obj.Task.Clone()
		if tr.DescribeTask != nil {
			shown = tr.DescribeTask(obj)
		}
		return []api.Event{{Type: api.EventTaskStateChange, Time: TaskTime(obj.Task), Cluster: obj.ClusterName(),
			Revision: ev.Revision, Task: shown}}
	case *state.Service:
		prev, _ := ev.Prev.(*state.Service)
		var out []api.Event
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
				out = append(out, api.Event{Type: api.EventServiceAction, Time: e.CreatedAt, Cluster: obj.Cluster,
					Revision: ev.Revision, Service: obj.Name, Message: e.Message})
			}
		}
		for _, d := range obj.Deployments {
			if st, ok := rollout[d.ID]; !ok || st != d.RolloutState {
				d := d
				out = append(out, api.Event{Type: api.EventDeploymentStateChange, Time: d.UpdatedAt, Cluster: obj.Cluster,
					Revision: ev.Revision, Service: obj.Name, Deployment: &d})
			}
		}
		return out
	case *state.Instance:
		prev, _ := ev.Prev.(*state.Instance)
		var before *cluster.ContainerInstance
		if prev != nil {
			before = &prev.ContainerInstance
		}
		if !obj.StateChanged(before) {
			return nil // a heartbeat, counts, reservations: no event
		}
		inst := obj.Clone()
		return []api.Event{{Type: api.EventInstanceStateChange, Time: InstanceTime(&inst), Cluster: obj.Cluster,
			Revision: ev.Revision, Instance: &inst}}
	}
	return nil
}
