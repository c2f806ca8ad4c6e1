package actions

import (
	"context"
	"time"

	"github.com/stevedore-io/stevedore/api"
	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/placement/query"
	"github.com/stevedore-io/stevedore/store"
)

// ListContainerInstances lists the instances of a cluster.
func (a *Actions) ListContainerInstances(ctx context.Context, in api.ListContainerInstancesInput) (*api.ListContainerInstancesOutput, error) {
	clusterName := clusterName(in.Cluster)
	var filter *query.Expr
	if in.Filter != "" {
		var err error
		if filter, err = query.Parse(in.Filter); err != nil {
			return nil, invalid("filter", "%v", err)
		}
	}
	var ids []string
	err := a.store.View(ctx, func(tx store.ReadTx) error {
		ids = nil
		if _, err := a.getCluster(tx, clusterName); err != nil {
			return err
		}
		all, err := store.List[*state.Instance](tx, state.KindInstances)
		if err != nil {
			return err
		}
		for _, inst := range all {
			switch {
			case inst.Cluster != clusterName,
				in.Status == "" && inst.Status == cluster.StatusInactive,
				in.Status != "" && inst.Status != in.Status,
				filter != nil && !filter.Eval(instanceTarget{&inst.ContainerInstance}):
				continue
			}
			ids = append(ids, inst.ID)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	page, next, err := paginate(ids, in.MaxResults, 100, in.NextToken)
	if err != nil {
		return nil, err
	}
	out := &api.ListContainerInstancesOutput{NextToken: next}
	for _, id := range page {
		out.ContainerInstanceArns = append(out.ContainerInstanceArns, a.ContainerInstanceARN(clusterName, id))
	}
	return out, nil
}

// instanceTarget is a container instance as the cluster query language
// sees it.
type instanceTarget struct{ *cluster.ContainerInstance }

var _ query.Target = instanceTarget{}

func (t instanceTarget) InstanceID() string { return t.ID }

func (t instanceTarget) Attribute(name string) (string, bool) {
	return t.ContainerInstance.Attribute(name)
}

func (t instanceTarget) RegisteredAt() time.Time { return t.ContainerInstance.RegisteredAt }

func (t instanceTarget) RunningTasksCount() int { return t.ContainerInstance.RunningTasksCount }

func (t instanceTarget) AgentConnected() bool { return t.ContainerInstance.AgentConnected }

func (t instanceTarget) AgentVersion() string { return t.ContainerInstance.AgentVersion }

func (t instanceTarget) HasTaskGroup(match func(string) bool) bool {
	for g, n := range t.TaskGroups {
		if n > 0 && match(g) {
			return true
		}
	}
	return false
}
