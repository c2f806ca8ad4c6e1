package actions_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/api"
	"github.com/stevedore-io/stevedore/internal/actions"
	"github.com/stevedore-io/stevedore/internal/launch"
	"github.com/stevedore-io/stevedore/placement"
	"github.com/stevedore-io/stevedore/store/memory"
)

func TestNewNeedsItsDependencies(t *testing.T) {
	t.Parallel()
	s, err := memory.New()
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	sched, err := placement.New()
	require.NoError(t, err)
	l, err := launch.New(launch.Config{Scheduler: sched, ResolveNetwork: actions.ResolveLaunchNetwork})
	require.NoError(t, err)
	start := func(string, string, api.RegisterContainerInstanceInput) error { return nil }

	for name, cfg := range map[string]actions.Config{
		"no store":       {Launcher: l, StartAgent: start},
		"no launcher":    {Store: s, StartAgent: start},
		"no agent start": {Store: s, Launcher: l},
	} {
		_, err := actions.New(cfg)
		require.Error(t, err, name)
	}
	a, err := actions.New(actions.Config{Store: s, Launcher: l, StartAgent: start, ARNPrefix: "arn:aws:ecs:local:000000000000:"})
	require.NoError(t, err)
	require.Equal(t, "arn:aws:ecs:local:000000000000:cluster/default", a.ClusterARN(""))
}
