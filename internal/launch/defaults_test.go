package launch_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/errdefs"
	"github.com/stevedore-io/stevedore/internal/launch"
	"github.com/stevedore-io/stevedore/placement"
)

// firstFit keeps the first candidate.
type firstFit struct{}

func (firstFit) Name() string { return "first-fit" }

func (firstFit) Select(_ *placement.Round, _ *placement.Request, c []*placement.InstanceInfo) ([]*placement.InstanceInfo, *placement.Status) {
	return c[:1], nil
}

// The default strategies of tasks that name none: the configured ones,
// else none when the scheduler has a chain of its own, else ECS's.
func TestDefaultStrategies(t *testing.T) {
	t.Parallel()
	ecs := []placement.StrategySpec{placement.Random()}
	custom, err := placement.New(placement.WithStrategyType("first", func(string) (placement.Strategy, error) { return firstFit{}, nil }))
	require.NoError(t, err)
	chained, err := placement.New(placement.WithStrategies(firstFit{}))
	require.NoError(t, err)

	configured := []placement.StrategySpec{{Type: "first"}, placement.Binpack("memory")}
	l, err := launch.New(launch.Config{Scheduler: custom, DefaultStrategies: configured})
	require.NoError(t, err)
	got := l.DefaultStrategies(ecs)
	assert.Equal(t, configured, got)
	got[0].Type = "changed"
	assert.Equal(t, placement.StrategyType("first"), l.DefaultStrategies(ecs)[0].Type, "the caller gets a copy")

	l, err = launch.New(launch.Config{Scheduler: chained})
	require.NoError(t, err)
	assert.Nil(t, l.DefaultStrategies(ecs), "the scheduler's own chain places them")

	l, err = launch.New(launch.Config{Scheduler: custom})
	require.NoError(t, err)
	assert.Equal(t, ecs, l.DefaultStrategies(ecs))

	_, err = launch.New(launch.Config{Scheduler: chained, DefaultStrategies: []placement.StrategySpec{{Type: "first"}}})
	require.ErrorIs(t, err, launch.ErrInvalid, "first is not registered on that scheduler")
	var fe *errdefs.FieldError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "placementStrategy[0].type", fe.Path)
}
