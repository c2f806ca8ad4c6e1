package actions_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/api"
	"github.com/stevedore-io/stevedore/internal/actions"
	"github.com/stevedore-io/stevedore/internal/launch"
	"github.com/stevedore-io/stevedore/placement"
	"github.com/stevedore-io/stevedore/store/memory"
	"github.com/stevedore-io/stevedore/task"
)

// firstFit keeps the first candidate.
type firstFit struct{}

func (firstFit) Name() string { return "first-fit" }

func (firstFit) Select(_ *placement.Round, _ *placement.Request, c []*placement.InstanceInfo) ([]*placement.InstanceInfo, *placement.Status) {
	return c[:1], nil
}

// A service's placement strategy and constraints are checked against the
// scheduler: its custom types are accepted, others are FieldErrors.
func TestServicePlacementIsCheckedAgainstTheScheduler(t *testing.T) {
	t.Parallel()
	s, err := memory.New()
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	sched, err := placement.New(
		placement.WithStrategyType("first", func(string) (placement.Strategy, error) { return firstFit{}, nil }),
		// A builder that makes no filter refuses every expression.
		placement.WithConstraintType("filterless", func(string) (placement.Filter, error) { return nil, nil }))
	require.NoError(t, err)
	l, err := launch.New(launch.Config{Scheduler: sched, ResolveNetwork: actions.ResolveLaunchNetwork})
	require.NoError(t, err)
	a, err := actions.New(actions.Config{Store: s, Launcher: l, StartAgent: func(string, string, api.RegisterContainerInstanceInput) error { return nil }})
	require.NoError(t, err)
	ctx := t.Context()
	_, err = a.CreateCluster(ctx, api.CreateClusterInput{ClusterName: "c"})
	require.NoError(t, err)
	_, err = a.RegisterTaskDefinition(ctx, api.RegisterTaskDefinitionInput{TaskDefinition: task.TaskDefinition{Family: "web",
		ContainerDefinitions: []task.ContainerDefinition{{Name: "web", Image: "web:1", Memory: 128}}}})
	require.NoError(t, err)

	out, err := a.CreateService(ctx, api.CreateServiceInput{Cluster: "c", ServiceName: "web", TaskDefinition: "web",
		PlacementStrategy: []placement.StrategySpec{{Type: "first"}}})
	require.NoError(t, err)
	assert.Equal(t, []placement.StrategySpec{{Type: "first"}}, out.Service.PlacementStrategy)

	for name, in := range map[string]api.CreateServiceInput{
		"placementStrategy[0].type":          {PlacementStrategy: []placement.StrategySpec{{Type: "last"}}},
		"placementConstraints[0].type":       {PlacementConstraints: []placement.Constraint{{Type: "none"}}},
		"placementConstraints[0].expression": {PlacementConstraints: []placement.Constraint{{Type: "filterless"}}},
	} {
		in.Cluster, in.ServiceName, in.TaskDefinition = "c", "api", "web"
		_, err := a.CreateService(ctx, in)
		require.ErrorIs(t, err, api.ErrInvalid, name)
		fes := api.FieldErrors(err)
		require.Len(t, fes, 1, name)
		assert.Equal(t, name, fes[0].Path)
	}
	_, err = a.UpdateService(ctx, api.UpdateServiceInput{Cluster: "c", Service: "web", PlacementStrategy: &[]placement.StrategySpec{{Type: "last"}}})
	require.ErrorIs(t, err, api.ErrInvalid)
	assert.Equal(t, "placementStrategy[0].type", api.FieldErrors(err)[0].Path)
}

// RunTask refuses a strategy type the scheduler does not know before it
// reads anything: the cluster need not exist, nor hold instances.
func TestRunTaskChecksPlacementFirst(t *testing.T) {
	t.Parallel()
	s, err := memory.New()
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	sched, err := placement.New()
	require.NoError(t, err)
	l, err := launch.New(launch.Config{Scheduler: sched, ResolveNetwork: actions.ResolveLaunchNetwork})
	require.NoError(t, err)
	a, err := actions.New(actions.Config{Store: s, Launcher: l, StartAgent: func(string, string, api.RegisterContainerInstanceInput) error { return nil }})
	require.NoError(t, err)
	_, err = a.RunTask(t.Context(), api.RunTaskInput{Cluster: "nowhere", TaskDefinition: "web",
		PlacementStrategy: []placement.StrategySpec{{Type: "gpu-first"}}})
	require.ErrorIs(t, err, api.ErrInvalid)
	assert.Equal(t, "placementStrategy[0].type", api.FieldErrors(err)[0].Path)
	_, err = a.RunTask(t.Context(), api.RunTaskInput{Cluster: "nowhere", TaskDefinition: "web",
		PlacementConstraints: []placement.Constraint{{Type: "maintenance"}}})
	require.ErrorIs(t, err, api.ErrInvalid)
	assert.Equal(t, "placementConstraints[0].type", api.FieldErrors(err)[0].Path)
}
