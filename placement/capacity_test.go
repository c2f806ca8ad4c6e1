package placement_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/errdefs"
	"github.com/stevedore-io/stevedore/internal/testutil"
	"github.com/stevedore-io/stevedore/placement"
)

func TestSplitCapacity(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		strategy cluster.CapacityProviderStrategy
		count    int
		running  map[string]int
		want     []int
	}{
		{
			name:     "ECS example: A base 1 weight 1, B weight 4, six tasks",
			strategy: cluster.CapacityProviderStrategy{{CapacityProvider: "A", Base: 1, Weight: 1}, {CapacityProvider: "B", Weight: 4}},
			count:    6,
			want:     []int{2, 4},
		},
		{
			name:     "ECS example: equal weights split evenly",
			strategy: cluster.CapacityProviderStrategy{{CapacityProvider: "A", Weight: 1}, {CapacityProvider: "B", Weight: 1}},
			count:    6,
			want:     []int{3, 3},
		},
		{
			name:     "an odd task goes to the provider listed first",
			strategy: cluster.CapacityProviderStrategy{{CapacityProvider: "A", Weight: 1}, {CapacityProvider: "B", Weight: 1}},
			count:    5,
			want:     []int{3, 2},
		},
		{
			name:     "weights 1:2:3",
			strategy: cluster.CapacityProviderStrategy{{CapacityProvider: "A", Weight: 1}, {CapacityProvider: "B", Weight: 2}, {CapacityProvider: "C", Weight: 3}},
			count:    12,
			want:     []int{2, 4, 6},
		},
		{
			name:     "base larger than the batch",
			strategy: cluster.CapacityProviderStrategy{{CapacityProvider: "A", Base: 10, Weight: 1}, {CapacityProvider: "B", Weight: 1}},
			count:    4,
			want:     []int{4, 0},
		},
		{
			name:     "base on a provider listed second, weight 0",
			strategy: cluster.CapacityProviderStrategy{{CapacityProvider: "A", Weight: 1}, {CapacityProvider: "B", Base: 2}},
			count:    5,
			want:     []int{3, 2},
		},
		{
			name:     "no tasks",
			strategy: cluster.CapacityProviderStrategy{{CapacityProvider: "A", Base: 3, Weight: 1}},
			count:    0,
			want:     []int{0},
		},
		{
			name:     "running tasks meet the base",
			strategy: cluster.CapacityProviderStrategy{{CapacityProvider: "A", Base: 2, Weight: 1}, {CapacityProvider: "B", Weight: 1}},
			count:    4,
			running:  map[string]int{"A": 2},
			want:     []int{2, 2},
		},
		{
			name:     "running tasks count towards the weights",
			strategy: cluster.CapacityProviderStrategy{{CapacityProvider: "A", Weight: 1}, {CapacityProvider: "B", Weight: 1}},
			count:    4,
			running:  map[string]int{"A": 5, "B": 1},
			want:     []int{0, 4},
		},
		{
			name:     "scaling up the ECS example from 6 to 11 keeps 1 + 1:4",
			strategy: cluster.CapacityProviderStrategy{{CapacityProvider: "A", Base: 1, Weight: 1}, {CapacityProvider: "B", Weight: 4}},
			count:    5,
			running:  map[string]int{"A": 2, "B": 4, "gone": 7},
			want:     []int{1, 4},
		},
		{
			name:     "six providers",
			strategy: cluster.CapacityProviderStrategy{{CapacityProvider: "a", Weight: 1}, {CapacityProvider: "b", Weight: 1}, {CapacityProvider: "c", Weight: 1}, {CapacityProvider: "d", Weight: 1}, {CapacityProvider: "e", Weight: 1}, {CapacityProvider: "f", Weight: 1}},
			count:    8,
			want:     []int{2, 2, 1, 1, 1, 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			shares, err := placement.SplitCapacity(tt.strategy, tt.count, tt.running)
			require.NoError(t, err)
			got := make([]int, len(shares))
			for i, s := range shares {
				assert.Equal(t, tt.strategy[i].CapacityProvider, s.CapacityProvider)
				got[i] = s.Count
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestSplitCapacityRejects(t *testing.T) {
	t.Parallel()
	ok := cluster.CapacityProviderStrategy{{CapacityProvider: "A", Weight: 1}}
	_, err := placement.SplitCapacity(cluster.CapacityProviderStrategy{{CapacityProvider: "A", Weight: 1001}}, 1, nil)
	var fe *errdefs.FieldError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "capacityProviderStrategy[0].weight", fe.Path)
	_, err = placement.SplitCapacity(ok, -1, nil)
	require.ErrorIs(t, err, placement.ErrInvalid)
	_, err = placement.SplitCapacity(ok, 1, map[string]int{"A": -1})
	require.ErrorIs(t, err, placement.ErrInvalid)
}

// TestSplitCapacityProperties checks that the split hands out every task,
// meets the base first, gives the same shares one task at a time as in one
// go, and stays near the weights' proportions. No method can both hand out
// tasks one at a time consistently and always stay within one task of the
// exact proportion (Balinski and Young); the rule used stays within 1.5.
func TestSplitCapacityProperties(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, cluster.MaxStrategyProviders).Draw(t, "providers")
		baseAt := rapid.IntRange(-1, n-1).Draw(t, "baseAt")
		var strategy cluster.CapacityProviderStrategy
		for i := range n {
			item := cluster.CapacityProviderStrategyItem{CapacityProvider: string(rune('a' + i)), Weight: rapid.IntRange(0, 10).Draw(t, "weight")}
			if i == baseAt {
				item.Base = rapid.IntRange(0, 20).Draw(t, "base")
			}
			strategy = append(strategy, item)
		}
		if strategy.Validate() != nil {
			t.Skip("invalid strategy")
		}
		count := rapid.IntRange(0, 200).Draw(t, "count")
		shares, err := placement.SplitCapacity(strategy, count, nil)
		if err != nil {
			t.Fatal(err)
		}
		total, weightSum, baseGiven := 0, 0, 0
		for i, s := range shares {
			total += s.Count
			weightSum += strategy[i].Weight
			baseGiven += min(strategy[i].Base, s.Count)
		}
		if total != count {
			t.Fatalf("%d tasks shared out of %d", total, count)
		}
		for i, s := range shares {
			if s.Count < min(strategy[i].Base, count) {
				t.Fatalf("provider %s got %d tasks, below its base %d", s.CapacityProvider, s.Count, strategy[i].Base)
			}
			weighted := s.Count - min(strategy[i].Base, s.Count)
			ideal := float64(count-baseGiven) * float64(strategy[i].Weight) / float64(weightSum)
			if d := float64(weighted) - ideal; d >= 1.5 || d <= -1.5 {
				t.Fatalf("provider %s got %d weighted tasks, ideal %.2f: %v", s.CapacityProvider, weighted, ideal, shares)
			}
		}

		// One more task, given the shares as running tasks, lands where
		// placing count+1 at once would put it.
		running := map[string]int{}
		for _, s := range shares {
			running[s.CapacityProvider] = s.Count
		}
		one, err := placement.SplitCapacity(strategy, 1, running)
		if err != nil {
			t.Fatal(err)
		}
		all, err := placement.SplitCapacity(strategy, count+1, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := range shares {
			if shares[i].Count+one[i].Count != all[i].Count {
				t.Fatalf("one at a time %v + %v, in one go %v", shares, one, all)
			}
		}
	})
}

func TestPlaceWithCapacityProviderStrategy(t *testing.T) {
	t.Parallel()
	var insts []cluster.ContainerInstance
	for _, id := range []string{"od-1", "od-2"} {
		insts = append(insts, testutil.Instance(id).Provider("on-demand").Obj())
	}
	insts = append(insts, testutil.Instance("spot-1").Provider("spot").CPU(1024).Obj())
	for path, s := range schedulers(t) {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			r := s.NewRound(insts, 1)
			req := testutil.Task("web:1").Service("web").CPU(256).Spread("instanceId").
				ProviderStrategy("on-demand", 1, 1).ProviderStrategy("spot", 0, 4).Obj()
			ds, err := r.Place(req, 6)
			require.NoError(t, err)
			assert.Equal(t, []string{"od-1", "od-2", "spot-1", "spot-1", "spot-1", "spot-1"}, instancesOf(ds))
			for _, d := range ds {
				assert.Equal(t, d.Instance[:len(d.Instance)-2], map[string]string{"on-demand": "od", "spot": "spot"}[d.CapacityProvider])
			}

			// Spot is full now: the spot share fails, on-demand's went through.
			req.ProviderTasks = map[string]int{"on-demand": 2, "spot": 4}
			ds, err = r.Place(req, 5)
			var nf *placement.NoFitError
			require.ErrorAs(t, err, &nf)
			assert.Equal(t, "spot", nf.CapacityProvider)
			assert.Equal(t, 5, nf.Requested)
			assert.Equal(t, 1, nf.Placed)
			assert.Equal(t, []string{"od-1"}, instancesOf(ds))
			assert.Contains(t, err.Error(), "no instance fits task web:1 on capacity provider spot: 2 instances: CapacityProvider; 1 instance: RESOURCE:CPU")
		})
	}
}
