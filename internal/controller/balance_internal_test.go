package controller

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/placement"
	"github.com/stevedore-io/stevedore/service"
	"github.com/stevedore-io/stevedore/task"
)

// TestStopBalanceFollowsThePlacementStrategy: each level of a service's
// placement strategy becomes the planner's balance level, with each
// task's value read from its instance; no strategy is ECS's default for
// services (spread over zones, then instances).
func TestStopBalanceFollowsThePlacementStrategy(t *testing.T) {
	t.Parallel()
	inst := &state.Instance{ContainerInstance: cluster.ContainerInstance{ID: "i-1",
		Attributes: map[string]string{"ecs.availability-zone": "a", "rack": "r7"},
		Remaining:  cluster.Resources{CPU: 1000, Memory: 3000}}}
	tk := &state.Task{Task: &task.Task{ContainerInstanceARN: "i-1"}, Reserved: cluster.Resources{CPU: 256, Memory: 512}}
	tests := []struct {
		name   string
		specs  []placement.StrategySpec
		kinds  []service.BalanceKind
		values []service.PlacementValue
	}{
		{"default", nil, []service.BalanceKind{service.BalanceSpread, service.BalanceSpread},
			[]service.PlacementValue{{Spread: "a"}, {Spread: "i-1"}}},
		{"spread on an attribute and on hosts",
			[]placement.StrategySpec{placement.Spread("attribute:rack"), placement.Spread("host")},
			[]service.BalanceKind{service.BalanceSpread, service.BalanceSpread},
			[]service.PlacementValue{{Spread: "r7"}, {Spread: "i-1"}}},
		{"binpack on memory, then cpu",
			[]placement.StrategySpec{placement.Binpack("memory"), placement.Binpack("cpu")},
			[]service.BalanceKind{service.BalanceBinpack, service.BalanceBinpack},
			[]service.PlacementValue{{Free: 3000, Used: 512}, {Free: 1000, Used: 256}}},
		{"random", []placement.StrategySpec{placement.Random()},
			[]service.BalanceKind{service.BalanceRandom}, []service.PlacementValue{{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			levels := stopBalance(tt.specs, nil)
			var kinds []service.BalanceKind
			var values []service.PlacementValue
			for _, l := range levels {
				kinds = append(kinds, l.kind)
				values = append(values, l.placementValue(tk, inst))
			}
			assert.Equal(t, tt.kinds, kinds)
			assert.Equal(t, tt.values, values)
		})
	}

	// An instance lacking the attribute, or gone, has a value of its own.
	l := stopBalance([]placement.StrategySpec{placement.Spread("attribute:gpu")}, nil)[0]
	assert.Equal(t, missingAttribute, l.placementValue(tk, inst).Spread)
	assert.Equal(t, missingAttribute, l.placementValue(tk, nil).Spread)

	// The seed: the same for the same service, another for another.
	assert.Equal(t, stopSeed(1, "c", "web"), stopSeed(1, "c", "web"))
	assert.NotEqual(t, stopSeed(1, "c", "web"), stopSeed(2, "c", "web"))
	assert.NotEqual(t, stopSeed(1, "c", "web"), stopSeed(1, "c", "api"))
}

// zonesFirst is a custom strategy that says how to stop its tasks;
// opaque is one that does not.
type zonesFirst struct{}

func (zonesFirst) Name() string { return "zones-first" }
func (zonesFirst) Select(_ *placement.Round, _ *placement.Request, c []*placement.InstanceInfo) ([]*placement.InstanceInfo, *placement.Status) {
	return c, nil
}
func (zonesFirst) StopBalance() []placement.StrategySpec {
	return []placement.StrategySpec{placement.Spread("attribute:ecs.availability-zone"), {Type: "zones-first"}}
}

type opaque struct{}

func (opaque) Name() string { return "opaque" }
func (opaque) Select(_ *placement.Round, _ *placement.Request, c []*placement.InstanceInfo) ([]*placement.InstanceInfo, *placement.Status) {
	return c, nil
}

// TestStopSpecsOfCustomStrategies: a custom strategy stands for the
// built-in levels its StopBalance returns, or for none; with no level
// left, the service default balances the stops.
func TestStopSpecsOfCustomStrategies(t *testing.T) {
	t.Parallel()
	sched, err := placement.New(
		placement.WithStrategyType("zones-first", func(string) (placement.Strategy, error) { return zonesFirst{}, nil }),
		placement.WithStrategyType("opaque", func(string) (placement.Strategy, error) { return opaque{}, nil }))
	assert.NoError(t, err)
	builtin := []placement.StrategySpec{placement.Binpack("memory")}
	assert.Same(t, &builtin[0], &stopSpecs(sched, builtin)[0], "built-in specs are used as they are")
	assert.Equal(t, []placement.StrategySpec{placement.Spread("attribute:ecs.availability-zone"), placement.Binpack("cpu")},
		stopSpecs(sched, []placement.StrategySpec{{Type: "opaque"}, {Type: "zones-first"}, placement.Binpack("cpu")}))
	assert.Empty(t, stopSpecs(sched, []placement.StrategySpec{{Type: "opaque"}, {Type: "unknown"}}))
	var kinds []service.BalanceKind
	for _, l := range stopBalance(stopSpecs(sched, []placement.StrategySpec{{Type: "opaque"}}), nil) {
		kinds = append(kinds, l.kind)
	}
	assert.Equal(t, []service.BalanceKind{service.BalanceSpread, service.BalanceSpread}, kinds, "the service default")
}
