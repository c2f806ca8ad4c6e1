package api

import "github.com/stevedore-io/stevedore/task/policy"

// PutClusterTaskPolicyInput sets the task policy of a cluster.
type PutClusterTaskPolicyInput struct {
	// Cluster is a name or ARN; empty means DefaultCluster.
	Cluster string
	// TaskPolicy is the cluster's policy; nil returns the cluster to the
	// Orchestrator's (WithTaskPolicy).
	TaskPolicy *policy.Policy
}

// PutClusterTaskPolicyOutput is empty: the policy applies to the tasks
// launched from now on.
type PutClusterTaskPolicyOutput struct{}
