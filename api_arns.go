package stevedore

import (
	"fmt"
	"strings"
)

// The partition, region and account of the ARNs the API gives out unless
// WithARNs says otherwise.
const (
	DefaultARNPartition = "aws"
	DefaultARNRegion    = "local"
	DefaultARNAccount   = "000000000000"
)

// WithARNs sets the partition, region and account of the ARNs the API
// gives out (clusterArn, serviceArn, taskArn, containerInstanceArn,
// taskDefinitionArn), such as "aws", "eu-west-1", "123456789012" for
// arn:aws:ecs:eu-west-1:123456789012:cluster/prod. Calls accept names and
// ARNs alike; only the name at the end of an ARN counts.
func WithARNs(partition, region, account string) Option {
	return func(o *options) error {
		for field, v := range map[string]string{"partition": partition, "region": region, "account": account} {
			if v == "" || strings.ContainsAny(v, ":/ \t\n") {
				return invalid("WithARNs."+field, "must be non-empty, without ':', '/' or spaces, got %q", v)
			}
		}
		o.arnPrefix = arnPrefix(partition, region, account)
		return nil
	}
}

func arnPrefix(partition, region, account string) string {
	return fmt.Sprintf("arn:%s:ecs:%s:%s:", partition, region, account)
}

// ClusterARN is the ARN of a cluster (named by name or ARN; "" is
// DefaultCluster).
func (o *Orchestrator) ClusterARN(name string) string {
	return o.actions.ClusterARN(name)
}

// ServiceARN is the ARN of a service of a cluster.
func (o *Orchestrator) ServiceARN(clusterArg, name string) string {
	return o.actions.ServiceARN(clusterArg, name)
}

// ContainerInstanceARN is the ARN of a container instance of a cluster.
func (o *Orchestrator) ContainerInstanceARN(clusterArg, id string) string {
	return o.actions.ContainerInstanceARN(clusterArg, id)
}

// TaskARN is the ARN of a task of a cluster.
func (o *Orchestrator) TaskARN(clusterArg, id string) string {
	return o.actions.TaskARN(clusterArg, id)
}

// TaskDefinitionARN is the ARN of a task definition ("family:N", or an
// ARN ending in it).
func (o *Orchestrator) TaskDefinitionARN(ref string) string {
	return o.actions.TaskDefinitionARN(ref)
}
