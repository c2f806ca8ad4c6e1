package stevedore

import (
	"context"
	"fmt"

	"github.com/stevedore-io/stevedore/api"
	"github.com/stevedore-io/stevedore/task/policy"
)

// PutClusterTaskPolicyInput sets the task policy of a cluster.
type PutClusterTaskPolicyInput = api.PutClusterTaskPolicyInput

// PutClusterTaskPolicyOutput is empty: the policy applies to the tasks launched from now on.
type PutClusterTaskPolicyOutput = api.PutClusterTaskPolicyOutput

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

// PutClusterTaskPolicy sets the task policy of a cluster; a nil TaskPolicy
// goes back to the Orchestrator's default. A tighter policy leaves what runs alone:
// running tasks and services keep running, and a service's next
// deployment of a definition the policy refuses is refused, with an event
// on the service saying why.
func (o *Orchestrator) PutClusterTaskPolicy(ctx context.Context, in *PutClusterTaskPolicyInput) (*PutClusterTaskPolicyOutput, error) {
	return o.actions.PutClusterTaskPolicy(ctx, value(in))
}
