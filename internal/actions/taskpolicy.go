package actions

import (
	"context"
	"fmt"

	"github.com/stevedore-io/stevedore/api"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/task"
	"github.com/stevedore-io/stevedore/task/policy"
)

// taskPolicyOf returns the task policy in force in cluster c.
func (a *Actions) taskPolicyOf(c *state.Cluster) policy.Policy {
	if c.TaskPolicy != nil {
		p := *c.TaskPolicy
		if p.Name == "" {
			p.Name = "cluster " + c.Name
		}
		return p
	}
	return a.taskPolicy
}

// checkTaskPolicy refuses def in cluster c when the cluster's task policy
// forbids it. The error is a *policy.ViolationError naming every field,
// and it matches ErrInvalid.
func (a *Actions) checkTaskPolicy(c *state.Cluster, def *task.TaskDefinition) error {
	if err := a.taskPolicyOf(c).Check(def); err != nil {
		return fmt.Errorf("%w: %w", api.ErrInvalid, err)
	}
	return nil
}

// validTaskPolicy checks a policy given to the API at field.
func validTaskPolicy(field string, p *policy.Policy) error {
	if p == nil {
		return nil
	}
	if err := p.Validate(); err != nil {
		return invalid(field, "%v", err)
	}
	return nil
}

// PutClusterTaskPolicy sets the task policy of a cluster; a nil TaskPolicy
// goes back to the Orchestrator's default. Orchestrator.PutClusterTaskPolicy
// documents it.
func (a *Actions) PutClusterTaskPolicy(ctx context.Context, in api.PutClusterTaskPolicyInput) (*api.PutClusterTaskPolicyOutput, error) {
	clusterName, p := clusterName(in.Cluster), in.TaskPolicy
	if err := a.checkOpen(); err != nil {
		return nil, err
	}
	if err := validTaskPolicy("taskPolicy", p); err != nil {
		return nil, err
	}
	err := a.store.Update(ctx, func(tx store.Tx) error {
		c, err := a.getCluster(tx, clusterName)
		if err != nil {
			return err
		}
		next := c.Copy()
		next.TaskPolicy = p.Clone()
		return tx.Update(next)
	})
	if err != nil {
		return nil, err
	}
	return &api.PutClusterTaskPolicyOutput{}, nil
}
