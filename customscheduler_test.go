package stevedore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/placement"
	"github.com/stevedore-io/stevedore/service"
	"github.com/stevedore-io/stevedore/stevedoretest"
	"github.com/stevedore-io/stevedore/task"
)

// inZone is the custom strategy type "zone": it keeps the candidates in
// the zone its field names (all of them when none is there).
type inZone struct{ zone string }

func (z inZone) Name() string { return "zone(" + z.zone + ")" }

func (z inZone) Select(_ *placement.Round, _ *placement.Request, c []*placement.InstanceInfo) ([]*placement.InstanceInfo, *placement.Status) {
	var out []*placement.InstanceInfo
	for _, inst := range c {
		if v, _ := inst.Attribute("ecs.availability-zone"); v == z.zone {
			out = append(out, inst)
		}
	}
	if len(out) == 0 {
		return c, nil
	}
	return out, nil
}

// pick is the custom strategy type "pick": one candidate drawn from the
// round's random source.
type pick struct{}

func (pick) Name() string { return "pick" }

func (pick) Select(r *placement.Round, _ *placement.Request, c []*placement.InstanceInfo) ([]*placement.InstanceInfo, *placement.Status) {
	i := r.Rand().IntN(len(c))
	return c[i : i+1], nil
}

// zoneClosed is the filter of the custom constraint type "zoneClosed":
// it turns down the instances of the zone its expression names.
type zoneClosed struct{ zone string }

func (zoneClosed) Name() string { return "zone-closed" }

func (z zoneClosed) Filter(_ *placement.Request, inst *placement.InstanceInfo) *placement.Status {
	if v, _ := inst.Attribute("ecs.availability-zone"); v == z.zone {
		return placement.Unfit("ZoneClosed")
	}
	return nil
}

// customScheduler registers the strategy types "zone" and "pick" and the
// constraint type "zoneClosed".
func customScheduler(t *testing.T, opts ...placement.Option) *placement.Scheduler {
	t.Helper()
	s, err := placement.New(append([]placement.Option{
		placement.WithStrategyType("zone", func(field string) (placement.Strategy, error) {
			if field == "" {
				return nil, errors.New("names no zone")
			}
			return inZone{zone: field}, nil
		}),
		placement.WithStrategyType("pick", func(field string) (placement.Strategy, error) {
			if field != "" {
				return nil, errors.New("takes no field")
			}
			return pick{}, nil
		}),
		placement.WithConstraintType("zoneClosed", func(expr string) (placement.Filter, error) {
			return zoneClosed{zone: expr}, nil
		}),
	}, opts...)...)
	require.NoError(t, err)
	return s
}

const smallWeb = `{"family": "web", "containerDefinitions": [{"name": "web", "image": "web:1", "memory": 128}]}`

func customEnv(t *testing.T, opts ...stevedore.Option) *stevedoretest.Env {
	return stevedoretest.New(t, stevedoretest.WithDefinitions(smallWeb),
		stevedoretest.WithOrchestratorOptions(opts...))
}

// A custom strategy named in RunTask's and in a service's placement
// strategy decides where their tasks land.
func TestCustomStrategyPlacesRunTaskAndServiceTasks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := customEnv(t, stevedore.WithPlacementScheduler(customScheduler(t)))
		ctx := context.Background()
		out, err := env.O.RunTask(ctx, &stevedore.RunTaskInput{Cluster: env.Cluster, TaskDefinition: "web", Count: 3,
			PlacementStrategy: []placement.StrategySpec{{Type: "zone", Field: "zone-b"}}})
		require.NoError(t, err)
		require.Empty(t, out.Failures)
		assert.Equal(t, map[string]int{"zone-b": 3}, env.CountByZone(out.Tasks))

		env.CreateService(stevedore.CreateServiceInput{ServiceName: "api", TaskDefinition: "web", DesiredCount: 4,
			PlacementStrategy: []placement.StrategySpec{{Type: "zone", Field: "zone-c"}}})
		env.WaitSteady("api")
		assert.Equal(t, map[string]int{"zone-c": 4}, env.CountByZone(env.Tasks("api", task.Running)))

		// UpdateService names another: the tasks it starts go there.
		env.UpdateService(stevedore.UpdateServiceInput{Service: "api", DesiredCount: new(6),
			PlacementStrategy: &[]placement.StrategySpec{{Type: "zone", Field: "zone-a"}}})
		env.WaitFor("6 tasks", func() bool { return len(env.Tasks("api", task.Running)) == 6 })
		env.WaitSteady("api")
		assert.Equal(t, map[string]int{"zone-c": 4, "zone-a": 2}, env.CountByZone(env.Tasks("api", task.Running)))
	})
}

// A strategy or constraint type no one registered is a FieldError naming
// it, through RunTask, CreateService and UpdateService.
func TestUnknownPlacementTypesAreFieldErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := customEnv(t, stevedore.WithPlacementScheduler(customScheduler(t)))
		ctx := context.Background()
		bad := []placement.StrategySpec{placement.Binpack("memory"), {Type: "gpu-first"}}
		badCons := []placement.Constraint{{Type: "maintenance", Expression: "now"}}
		refused := []placement.StrategySpec{{Type: "zone"}}
		env.CreateService(stevedore.CreateServiceInput{ServiceName: "api", TaskDefinition: "web", DesiredCount: 1})
		calls := map[string]struct {
			err  error
			path string
		}{
			"RunTask":          {errOf(env.O.RunTask(ctx, &stevedore.RunTaskInput{Cluster: env.Cluster, TaskDefinition: "web", PlacementStrategy: bad})), "placementStrategy[1].type"},
			"RunTask refused":  {errOf(env.O.RunTask(ctx, &stevedore.RunTaskInput{Cluster: env.Cluster, TaskDefinition: "web", PlacementStrategy: refused})), "placementStrategy[0].field"},
			"RunTask filter":   {errOf(env.O.RunTask(ctx, &stevedore.RunTaskInput{Cluster: env.Cluster, TaskDefinition: "web", PlacementConstraints: badCons})), "placementConstraints[0].type"},
			"CreateService":    {errOf(env.O.CreateService(ctx, &stevedore.CreateServiceInput{Cluster: env.Cluster, ServiceName: "x", TaskDefinition: "web", PlacementStrategy: bad})), "placementStrategy[1].type"},
			"CreateService cs": {errOf(env.O.CreateService(ctx, &stevedore.CreateServiceInput{Cluster: env.Cluster, ServiceName: "x", TaskDefinition: "web", PlacementConstraints: badCons})), "placementConstraints[0].type"},
			"UpdateService":    {errOf(env.O.UpdateService(ctx, &stevedore.UpdateServiceInput{Cluster: env.Cluster, Service: "api", PlacementStrategy: &bad})), "placementStrategy[1].type"},
			"UpdateService cs": {errOf(env.O.UpdateService(ctx, &stevedore.UpdateServiceInput{Cluster: env.Cluster, Service: "api", PlacementConstraints: &badCons})), "placementConstraints[0].type"},
		}
		for name, c := range calls {
			require.ErrorIs(t, c.err, stevedore.ErrInvalid, name)
			var fe *stevedore.FieldError
			require.ErrorAs(t, c.err, &fe, name)
			assert.Equal(t, c.path, fe.Path, name)
		}
		var fe *stevedore.FieldError
		require.ErrorAs(t, calls["RunTask"].err, &fe)
		assert.Equal(t, `"gpu-first" must be a strategy type the scheduler knows: binpack, spread, random, pick, zone`, fe.Reason)
		for _, tk := range env.Tasks("", task.Running) {
			assert.Equal(t, "service:api", tk.Group, "no RunTask started a task")
		}
	})
}

// The reason a custom filter gives reaches RunTask's and StartTask's
// failures and the service's "unable to place" event.
func TestCustomFilterReasonReachesFailuresAndEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := stevedoretest.New(t, stevedoretest.WithZones("zone-a"), stevedoretest.WithInstances(2),
			stevedoretest.WithDefinitions(smallWeb),
			stevedoretest.WithOrchestratorOptions(stevedore.WithPlacementScheduler(customScheduler(t))))
		ctx := context.Background()
		closed := []placement.Constraint{{Type: "zoneClosed", Expression: "zone-a"}}
		out, err := env.O.RunTask(ctx, &stevedore.RunTaskInput{Cluster: env.Cluster, TaskDefinition: "web", Count: 2, PlacementConstraints: closed})
		require.NoError(t, err)
		assert.Empty(t, out.Tasks)
		require.Len(t, out.Failures, 2)
		assert.Equal(t, "ZoneClosed", out.Failures[0].Reason)
		assert.Contains(t, out.Failures[0].Detail, "2 instances: ZoneClosed")

		svc := env.CreateService(stevedore.CreateServiceInput{ServiceName: "api", TaskDefinition: "web", DesiredCount: 1, PlacementConstraints: closed})
		assert.Equal(t, closed, svc.PlacementConstraints)
		env.WaitFor("the unable-to-place event", func() bool {
			for _, e := range env.Service("api").Events {
				if strings.Contains(e.Message, "unable to place") {
					assert.Contains(t, e.Message, `encountered error "ZoneClosed"`)
					assert.Contains(t, e.Message, "(2 instances: ZoneClosed)")
					return true
				}
			}
			return false
		})
	})
}

// A scheduler filter turns StartTask down on its instance, with its reason.
func TestSchedulerFilterReasonReachesStartTaskFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := stevedoretest.New(t, stevedoretest.WithZones("zone-a", "zone-b"), stevedoretest.WithDefinitions(smallWeb),
			stevedoretest.WithOrchestratorOptions(stevedore.WithPlacementScheduler(customScheduler(t, placement.WithFilters(zoneClosed{zone: "zone-b"})))))
		out, err := env.O.StartTask(context.Background(), &stevedore.StartTaskInput{Cluster: env.Cluster, TaskDefinition: "web",
			ContainerInstances: []string{env.Instances[0].ID, env.Instances[1].ID}})
		require.NoError(t, err)
		require.Len(t, out.Tasks, 1)
		assert.Equal(t, env.Instances[0].ID, out.Tasks[0].ContainerInstanceID())
		require.Len(t, out.Failures, 1)
		assert.Equal(t, "ZoneClosed", out.Failures[0].Reason)
		assert.True(t, strings.HasSuffix(out.Failures[0].Arn, env.Instances[1].ID), out.Failures[0].Arn)
	})
}

// WithDefaultPlacementStrategy places the tasks of RunTask calls and
// services that name no strategy, and may name a custom type.
func TestDefaultPlacementStrategyOption(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		def := []placement.StrategySpec{{Type: "zone", Field: "zone-c"}, placement.Spread("instanceId")}
		env := customEnv(t, stevedore.WithPlacementScheduler(customScheduler(t)), stevedore.WithDefaultPlacementStrategy(def...))
		out, err := env.O.RunTask(context.Background(), &stevedore.RunTaskInput{Cluster: env.Cluster, TaskDefinition: "web", Count: 2})
		require.NoError(t, err)
		assert.Equal(t, map[string]int{"zone-c": 2}, env.CountByZone(out.Tasks))
		svc := env.CreateService(stevedore.CreateServiceInput{ServiceName: "api", TaskDefinition: "web", DesiredCount: 3})
		assert.Equal(t, def, svc.PlacementStrategy, "the service stores the default it runs under")
		env.WaitSteady("api")
		assert.Equal(t, map[string]int{"zone-c": 3}, env.CountByZone(env.Tasks("api", task.Running)))

		// A service updated to name no strategy gets the default again.
		env.UpdateService(stevedore.UpdateServiceInput{Service: "api", PlacementStrategy: &[]placement.StrategySpec{placement.Random()}})
		assert.Equal(t, def, env.UpdateService(stevedore.UpdateServiceInput{Service: "api", PlacementStrategy: &[]placement.StrategySpec{}}).PlacementStrategy)
	})
}

// The default is checked against the scheduler when the Orchestrator is
// made; without a scheduler of its own, only built-in types are known.
func TestDefaultPlacementStrategyIsChecked(t *testing.T) {
	t.Parallel()
	for name, opts := range map[string][]stevedore.Option{
		"unknown type":  {stevedore.WithDefaultPlacementStrategy(placement.StrategySpec{Type: "zone", Field: "a"})},
		"refused field": {stevedore.WithPlacementScheduler(customScheduler(t)), stevedore.WithDefaultPlacementStrategy(placement.StrategySpec{Type: "zone"})},
		"none":          {stevedore.WithDefaultPlacementStrategy()},
	} {
		o, err := stevedore.New(opts...)
		if o != nil {
			_ = o.Close()
		}
		require.ErrorIs(t, err, stevedore.ErrInvalid, name)
	}
	_, err := stevedore.New(stevedore.WithDefaultPlacementStrategy(placement.StrategySpec{Type: "zone", Field: "a"}))
	var fe *stevedore.FieldError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "placementStrategy[0].type", fe.Path)
}

// A scheduler's own default chain (placement.WithStrategies) places the
// tasks that name no strategy; it used to be replaced by ECS's defaults.
func TestSchedulerDefaultChainIsUsed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := customEnv(t, stevedore.WithPlacementScheduler(customScheduler(t, placement.WithStrategies(inZone{zone: "zone-b"}))))
		out, err := env.O.RunTask(context.Background(), &stevedore.RunTaskInput{Cluster: env.Cluster, TaskDefinition: "web", Count: 3})
		require.NoError(t, err)
		assert.Equal(t, map[string]int{"zone-b": 3}, env.CountByZone(out.Tasks))
		env.CreateService(stevedore.CreateServiceInput{ServiceName: "api", TaskDefinition: "web", DesiredCount: 2})
		env.WaitSteady("api")
		assert.Equal(t, map[string]int{"zone-b": 2}, env.CountByZone(env.Tasks("api", task.Running)))
	})
}

// A custom strategy drawing from the round's random source places the
// same way under the same WithSeed.
func TestCustomStrategyIsDeterministicUnderWithSeed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		run := func() []string {
			env := stevedoretest.New(t, stevedoretest.WithInstances(6), stevedoretest.WithDefinitions(smallWeb),
				stevedoretest.WithOrchestratorOptions(stevedore.WithSeed(7), stevedore.WithPlacementScheduler(customScheduler(t))))
			var where []string
			for range 3 {
				out, err := env.O.RunTask(context.Background(), &stevedore.RunTaskInput{Cluster: env.Cluster, TaskDefinition: "web", Count: 4,
					PlacementStrategy: []placement.StrategySpec{{Type: "pick"}}})
				require.NoError(t, err)
				for _, tk := range out.Tasks {
					where = append(where, tk.ContainerInstanceID())
				}
			}
			return where
		}
		first := run()
		require.Len(t, first, 12)
		assert.Equal(t, first, run())
	})
}

// A DAEMON service leaves out the instances a custom constraint turns
// down, as it does those a memberOf constraint does, and is steady.
func TestDaemonServiceHonoursCustomConstraints(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := customEnv(t, stevedore.WithPlacementScheduler(customScheduler(t)))
		env.CreateService(stevedore.CreateServiceInput{ServiceName: "agent", TaskDefinition: "web", SchedulingStrategy: service.Daemon,
			PlacementConstraints: []placement.Constraint{{Type: "zoneClosed", Expression: "zone-b"}}})
		env.WaitSteady("agent")
		assert.Equal(t, map[string]int{"zone-a": 1, "zone-c": 1}, env.CountByZone(env.Tasks("agent", task.Running)))
		for _, e := range env.Service("agent").Events {
			assert.NotContains(t, e.Message, "unable to place")
		}
	})
}
