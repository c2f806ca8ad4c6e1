package stevedore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/task"
)

// action calls one action with a nil input (empty false) or an empty one.
type action func(ctx context.Context, o *stevedore.Orchestrator, empty bool) error

func actionOf[I, R any](m func(*stevedore.Orchestrator, context.Context, *I) (*R, error)) action {
	return func(ctx context.Context, o *stevedore.Orchestrator, empty bool) error {
		var in *I
		if empty {
			in = new(I)
		}
		out, err := m(o, ctx, in)
		if err == nil && out == nil {
			return errors.New("no output and no error")
		}
		return err
	}
}

// TestANilInputIsAnEmptyOne calls every action with a nil input and then
// with an empty one, on an Orchestrator with its default cluster: both get
// the same answer, an output with every success, and ErrInvalid naming the
// member a call cannot do without.
func TestANilInputIsAnEmptyOne(t *testing.T) {
	o, err := stevedore.New()
	require.NoError(t, err)
	t.Cleanup(func() { _ = o.Close() })
	ctx := t.Context()
	type O = stevedore.Orchestrator
	for _, tc := range []struct {
		name    string
		call    action
		missing string // the member an empty input lacks; "" when it needs none
	}{
		{"CreateCluster", actionOf((*O).CreateCluster), ""},
		{"DescribeClusters", actionOf((*O).DescribeClusters), ""},
		{"ListClusters", actionOf((*O).ListClusters), ""},
		{"DescribeContainerInstances", actionOf((*O).DescribeContainerInstances), ""},
		{"ListContainerInstances", actionOf((*O).ListContainerInstances), ""},
		{"ListAttributes", actionOf((*O).ListAttributes), ""},
		{"PutAttributes", actionOf((*O).PutAttributes), "attributes"},
		{"DeleteAttributes", actionOf((*O).DeleteAttributes), "attributes"},
		{"RegisterTaskDefinition", actionOf((*O).RegisterTaskDefinition), "family"},
		{"ListTaskDefinitionFamilies", actionOf((*O).ListTaskDefinitionFamilies), ""},
		{"ListTaskDefinitions", actionOf((*O).ListTaskDefinitions), ""},
		{"RunTask", actionOf((*O).RunTask), "taskDefinition"},
		{"StartTask", actionOf((*O).StartTask), "containerInstances"},
		{"StopTask", actionOf((*O).StopTask), "task"},
		{"DescribeTasks", actionOf((*O).DescribeTasks), "tasks"},
		{"ListTasks", actionOf((*O).ListTasks), ""},
		{"CreateService", actionOf((*O).CreateService), "serviceName"},
		{"UpdateService", actionOf((*O).UpdateService), "service"},
		{"DescribeServices", actionOf((*O).DescribeServices), ""},
		{"ListServices", actionOf((*O).ListServices), ""},
		{"TagResource", actionOf((*O).TagResource), "resourceArn"},
		{"DeregisterContainerInstance", actionOf((*O).DeregisterContainerInstance), "containerInstance"},
		{"UpdateContainerInstancesState", actionOf((*O).UpdateContainerInstancesState), "status"},
		{"DeregisterTaskDefinition", actionOf((*O).DeregisterTaskDefinition), "taskDefinition"},
		{"DescribeTaskDefinition", actionOf((*O).DescribeTaskDefinition), "taskDefinition"},
		{"DeleteService", actionOf((*O).DeleteService), "service"},
		{"GetLogEvents", actionOf((*O).GetLogEvents), ""},
		{"FilterLogEvents", actionOf((*O).FilterLogEvents), ""},
		{"UntagResource", actionOf((*O).UntagResource), "resourceArn"},
		{"ListTagsForResource", actionOf((*O).ListTagsForResource), "resourceArn"},
		{"DescribeSecurityGroups", actionOf((*O).DescribeSecurityGroups), ""},
		{"CreateSecurityGroup", actionOf((*O).CreateSecurityGroup), "groupName"},
		{"AuthorizeSecurityGroupIngress", actionOf((*O).AuthorizeSecurityGroupIngress), "groupId"},
		{"RevokeSecurityGroupIngress", actionOf((*O).RevokeSecurityGroupIngress), "groupId"},
		{"AuthorizeSecurityGroupEgress", actionOf((*O).AuthorizeSecurityGroupEgress), "groupId"},
		{"RevokeSecurityGroupEgress", actionOf((*O).RevokeSecurityGroupEgress), "groupId"},
		{"DeleteSecurityGroup", actionOf((*O).DeleteSecurityGroup), "groupId"},
		{"RegisterScalableTarget", actionOf((*O).RegisterScalableTarget), "service"},
		{"DeregisterScalableTarget", actionOf((*O).DeregisterScalableTarget), "service"},
		{"PutScalingPolicy", actionOf((*O).PutScalingPolicy), "service"},
		{"DeleteScalingPolicy", actionOf((*O).DeleteScalingPolicy), "service"},
		{"DescribeScalingPolicies", actionOf((*O).DescribeScalingPolicies), "service"},
		{"InterruptSpotInstance", actionOf((*O).InterruptSpotInstance), "containerInstance"},
		{"PutClusterTaskPolicy", actionOf((*O).PutClusterTaskPolicy), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nilErr := tc.call(ctx, o, false)
			emptyErr := tc.call(ctx, o, true)
			if nilErr == nil || emptyErr == nil {
				assert.Equal(t, nilErr, emptyErr)
			} else {
				assert.Equal(t, emptyErr.Error(), nilErr.Error())
			}
			if tc.missing != "" {
				// A task definition reports every problem with its
				// field path (task.ErrInvalid).
				require.True(t, errors.Is(nilErr, stevedore.ErrInvalid) || errors.Is(nilErr, task.ErrInvalid), "%v", nilErr)
				assert.ErrorContains(t, nilErr, tc.missing)
			}
			t.Logf("nil input: %v", nilErr)
		})
	}
}

// TestTheCallerKeepsItsInput: a call normalises its own copy of the input
// (the default cluster, a name for an ARN), never the caller's.
func TestTheCallerKeepsItsInput(t *testing.T) {
	o, err := stevedore.New()
	require.NoError(t, err)
	t.Cleanup(func() { _ = o.Close() })
	ctx := t.Context()
	created := &stevedore.CreateClusterInput{}
	_, err = o.CreateCluster(ctx, created)
	require.NoError(t, err)
	assert.Equal(t, stevedore.CreateClusterInput{}, *created)

	described := &stevedore.DescribeClustersInput{Clusters: []string{o.ClusterARN("")}}
	out, err := o.DescribeClusters(ctx, described)
	require.NoError(t, err)
	require.Len(t, out.Clusters, 1)
	assert.Equal(t, []string{o.ClusterARN("")}, described.Clusters)
}
