package stevedore

import (
	"context"
	"fmt"

	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/task"
	"github.com/stevedore-io/stevedore/task/policy"
)

// DefaultTaskPolicy is the task policy of a cluster that sets none, unless
// WithTaskPolicy says otherwise: level baseline, which refuses the ways a
// task could take its host (privileged containers, devices, the host's
// namespaces, host paths, capabilities beyond Docker's defaults) and
// leaves ordinary images, root inside their containers included, alone.
// A task definition that needs more runs in a cluster whose policy allows
// it (see package task/policy).
var DefaultTaskPolicy = policy.Policy{Name: "default", Level: policy.Baseline}

// WithTaskPolicy sets the task policy of the clusters that set none of
// their own (default DefaultTaskPolicy). policy.Policy{Level:
// policy.Privileged} checks nothing, as Stevedore did before task
// policies.
func WithTaskPolicy(p policy.Policy) Option {
	return func(o *options) error {
		if err := p.Validate(); err != nil {
			return fmt.Errorf("%w: WithTaskPolicy: %w", ErrInvalid, err)
		}
		if p.Name == "" {
			p.Name = "default"
		}
		o.taskPolicy = &p
		return nil
	}
}

// taskPolicyOf returns the task policy in force in cluster c.
func (o *Orchestrator) taskPolicyOf(c *state.Cluster) policy.Policy {
	if c.TaskPolicy != nil {
		p := *c.TaskPolicy
		if p.Name == "" {
			p.Name = "cluster " + c.Name
		}
		return p
	}
	return o.taskPolicy
}

// checkTaskPolicy refuses def in cluster c when the cluster's task policy
// forbids it. The error is a *policy.ViolationError naming every field,
// and it matches ErrInvalid.
func (o *Orchestrator) checkTaskPolicy(c *state.Cluster, def *task.TaskDefinition) error {
	if err := o.taskPolicyOf(c).Check(def); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
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

// PutClusterTaskPolicy sets the task policy of a cluster; nil goes back to
// the Orchestrator's default. A tighter policy leaves what runs alone:
// running tasks and services keep running, and a service's next
// deployment of a definition the policy refuses is refused, with an event
// on the service saying why.
func (o *Orchestrator) PutClusterTaskPolicy(ctx context.Context, clusterArg string, p *policy.Policy) error {
	clusterName := clusterName(clusterArg)
	if err := o.checkOpen(); err != nil {
		return err
	}
	if err := validTaskPolicy("taskPolicy", p); err != nil {
		return err
	}
	return o.store.Update(ctx, func(tx store.Tx) error {
		c, err := o.getCluster(tx, clusterName)
		if err != nil {
			return err
		}
		next := c.Copy()
		next.TaskPolicy = p.Clone()
		return tx.Update(next)
	})
}
