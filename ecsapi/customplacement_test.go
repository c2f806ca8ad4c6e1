package ecsapi_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/ecsapi"
	netfake "github.com/stevedore-io/stevedore/network/fake"
	"github.com/stevedore-io/stevedore/placement"
	"github.com/stevedore-io/stevedore/runtime/fake"
)

// inZone is the custom strategy type "zone": the candidates in the zone
// its field names.
type inZone string

func (z inZone) Name() string { return "zone(" + string(z) + ")" }

func (z inZone) Select(_ *placement.Round, _ *placement.Request, c []*placement.InstanceInfo) ([]*placement.InstanceInfo, *placement.Status) {
	var out []*placement.InstanceInfo
	for _, inst := range c {
		if v, _ := inst.Attribute(cluster.AttributeAvailabilityZone); v == string(z) {
			out = append(out, inst)
		}
	}
	if len(out) == 0 {
		return c, nil
	}
	return out, nil
}

// Over the wire, a placementStrategy of ECS's shape names a custom
// strategy type registered on the Orchestrator's scheduler; a type no one
// registered is an InvalidParameterException naming the field.
func TestCustomPlacementStrategyOverTheWire(t *testing.T) {
	sched, err := placement.New(placement.WithStrategyType("zone", func(field string) (placement.Strategy, error) {
		return inZone(field), nil
	}))
	require.NoError(t, err)
	o, err := stevedore.New(stevedore.WithSeed(1), stevedore.WithPlacementScheduler(sched))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, o.Close()) })
	ctx := t.Context()
	_, err = o.CreateCluster(ctx, &stevedore.CreateClusterInput{ClusterName: "c"})
	require.NoError(t, err)
	for _, id := range []string{"i-1", "i-2"} {
		rt := fake.New()
		t.Cleanup(rt.Close)
		_, err := o.RegisterContainerInstance(ctx, &stevedore.RegisterContainerInstanceInput{
			Cluster: "c", InstanceID: id, Resources: cluster.Resources{CPU: 2048, Memory: 4096, NetworkSlots: 8},
			Attributes: map[string]string{cluster.AttributeAvailabilityZone: "zone-" + id},
			Runtime:    rt, Network: netfake.New(), StateDir: t.TempDir(),
		})
		require.NoError(t, err)
	}
	h, err := ecsapi.New(o, ecsapi.WithCredentials(ecsapi.Credentials{AccessKeyID: accessKey, SecretAccessKey: secretKey}))
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	e := &env{o: o, srv: srv, client: newClient(srv, accessKey, secretKey)}
	e.register(t, "web:1")

	out, err := e.client.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("c"), TaskDefinition: aws.String("web"), Count: aws.Int32(2),
		PlacementStrategy: []types.PlacementStrategy{{Type: "zone", Field: aws.String("zone-i-2")}}})
	require.NoError(t, err)
	require.Len(t, out.Tasks, 2)
	for _, tk := range out.Tasks {
		assert.True(t, strings.HasSuffix(aws.ToString(tk.ContainerInstanceArn), "/i-2"), aws.ToString(tk.ContainerInstanceArn))
	}

	created, err := e.client.CreateService(ctx, &ecs.CreateServiceInput{Cluster: aws.String("c"), ServiceName: aws.String("web"),
		TaskDefinition: aws.String("web"), DesiredCount: aws.Int32(0),
		PlacementStrategy: []types.PlacementStrategy{{Type: "zone", Field: aws.String("zone-i-1")}}})
	require.NoError(t, err)
	assert.Equal(t, []types.PlacementStrategy{{Type: "zone", Field: aws.String("zone-i-1")}}, created.Service.PlacementStrategy)

	bad := []types.PlacementStrategy{{Type: types.PlacementStrategyTypeBinpack, Field: aws.String("memory")}, {Type: "gpu-first"}}
	_, err = e.client.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("c"), TaskDefinition: aws.String("web"), PlacementStrategy: bad})
	assert.Equal(t, "InvalidParameterException", apiError(err))
	assert.ErrorContains(t, err, "placementStrategy[1].type")
	_, err = e.client.CreateService(ctx, &ecs.CreateServiceInput{Cluster: aws.String("c"), ServiceName: aws.String("api"),
		TaskDefinition: aws.String("web"), PlacementStrategy: bad})
	assert.Equal(t, "InvalidParameterException", apiError(err))
	_, err = e.client.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("c"), Service: aws.String("web"), PlacementStrategy: bad})
	assert.Equal(t, "InvalidParameterException", apiError(err))
	assert.ErrorContains(t, err, "placementStrategy[1].type")
}
