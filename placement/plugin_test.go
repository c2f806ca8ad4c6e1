package placement_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/errdefs"
	"github.com/stevedore-io/stevedore/internal/testutil"
	"github.com/stevedore-io/stevedore/placement"
)

// attrFilter turns down instances lacking an attribute value.
type attrFilter struct {
	name, attr, value string
	reason            placement.Reason
}

func (f attrFilter) Name() string { return f.name }

func (f attrFilter) Filter(_ *placement.Request, inst *placement.InstanceInfo) *placement.Status {
	if v, _ := inst.Attribute(f.attr); v != f.value {
		return placement.Unfit(f.reason)
	}
	return nil
}

// brokenFilter fails on one instance.
type brokenFilter struct{ on string }

func (brokenFilter) Name() string { return "broken" }

func (f brokenFilter) Filter(_ *placement.Request, inst *placement.InstanceInfo) *placement.Status {
	if inst.InstanceID() == f.on {
		return placement.Broken(errors.New("lookup failed"))
	}
	return nil
}

// fixedScorer scores instances from a table.
type fixedScorer map[string]int

func (fixedScorer) Name() string { return "fixed" }

func (s fixedScorer) Score(_ *placement.Request, inst *placement.InstanceInfo) (int, *placement.Status) {
	return s[inst.InstanceID()], nil
}

// unfitScorer wrongly tries to turn instances down.
type unfitScorer struct{}

func (unfitScorer) Name() string { return "unfit" }

func (unfitScorer) Score(*placement.Request, *placement.InstanceInfo) (int, *placement.Status) {
	return 0, placement.Unfit("nope")
}

// worstFit keeps the instance with the most memory left.
type worstFit struct{}

func (worstFit) Name() string { return "worst-fit" }

func (worstFit) Select(_ *placement.Round, _ *placement.Request, c []*placement.InstanceInfo) ([]*placement.InstanceInfo, *placement.Status) {
	best := c[0]
	for _, inst := range c[1:] {
		if inst.RemainingMemory() > best.RemainingMemory() {
			best = inst
		}
	}
	return []*placement.InstanceInfo{best}, nil
}

// emptyStrategy breaks the Strategy contract.
type emptyStrategy struct{}

func (emptyStrategy) Name() string { return "empty" }

func (emptyStrategy) Select(*placement.Round, *placement.Request, []*placement.InstanceInfo) ([]*placement.InstanceInfo, *placement.Status) {
	return nil, nil
}

func threeInstances() []cluster.ContainerInstance {
	return []cluster.ContainerInstance{
		testutil.Instance("small").Memory(1024).Attr("disk", "hdd").Obj(),
		testutil.Instance("large").Memory(8192).Attr("disk", "ssd").Obj(),
		testutil.Instance("medium").Memory(4096).Attr("disk", "ssd").Obj(),
	}
}

func TestCustomFilter(t *testing.T) {
	t.Parallel()
	ssd := attrFilter{name: "ssd", attr: "disk", value: "ssd", reason: "DISK"}
	for path, s := range schedulers(t, placement.WithFilters(ssd)) {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			r := s.NewRound(threeInstances(), 1)
			ds, err := r.Place(testutil.Task("web:1").Memory(1024).Binpack("memory").Obj(), 13)
			want := []string{"medium", "medium", "medium", "medium"}
			for range 8 {
				want = append(want, "large")
			}
			assert.Equal(t, want, instancesOf(ds), "small fits the memory but not the filter")
			require.ErrorIs(t, err, placement.ErrNoFit)
			assert.Equal(t, "placement: no instance fits task web:1: 2 instances: RESOURCE:MEMORY; 1 instance: DISK (placed 12 of 13)", err.Error())
		})
	}
}

func TestCustomFilterWithoutReasonIsCountedUnderItsName(t *testing.T) {
	t.Parallel()
	s, err := placement.New(placement.WithFilters(attrFilter{name: "needs-nvme", attr: "disk", value: "nvme"}))
	require.NoError(t, err)
	expl, err := s.NewRound(threeInstances(), 1).Explain(testutil.Task("web:1").Obj())
	require.NoError(t, err)
	assert.Equal(t, "3 instances: needs-nvme", expl.String())
}

func TestBrokenFilterStopsPlacement(t *testing.T) {
	t.Parallel()
	for path, s := range schedulers(t, placement.WithFilters(brokenFilter{on: "medium"})) {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			ds, err := s.NewRound(threeInstances(), 1).Place(testutil.Task("web:1").Obj(), 1)
			assert.Empty(t, ds)
			require.ErrorIs(t, err, placement.ErrPlugin)
			var pe *placement.PluginError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, "broken", pe.Plugin)
			assert.Equal(t, "medium", pe.Instance)
			assert.EqualError(t, err, "placement: plug-in broken on instance medium: lookup failed")
		})
	}
}

func TestScoreStrategy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		scorer  placement.Scorer
		want    []string
		wantErr string
	}{
		{name: "highest score wins, binpack breaks ties",
			scorer: fixedScorer{"small": 10, "large": 90, "medium": 90}, want: []string{"medium", "medium"}},
		{name: "score above MaxScore",
			scorer: fixedScorer{"large": 101}, wantErr: "placement: plug-in score(fixed): instance large: score 101 out of [0, 100]"},
		{name: "score below MinScore",
			scorer: fixedScorer{"small": -1}, wantErr: "placement: plug-in score(fixed): instance small: score -1 out of [0, 100]"},
		{name: "a scorer cannot turn an instance down",
			scorer: unfitScorer{}, wantErr: "placement: plug-in score(unfit): instance small: a scorer cannot turn an instance down (Unfit: nope); use a Filter"},
	}
	binpack, err := placement.Binpack(placement.FieldMemory).Strategy()
	require.NoError(t, err)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := placement.New(placement.WithStrategies(placement.ScoreStrategy(tt.scorer), binpack))
			require.NoError(t, err)
			ds, err := s.NewRound(threeInstances(), 1).Place(testutil.Task("web:1").Obj(), 2)
			if tt.wantErr != "" {
				require.ErrorIs(t, err, placement.ErrPlugin)
				assert.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, instancesOf(ds))
		})
	}
}

func TestCustomStrategies(t *testing.T) {
	t.Parallel()
	s, err := placement.New(placement.WithStrategies(worstFit{}))
	require.NoError(t, err)
	ds, err := s.NewRound(threeInstances(), 1).Place(testutil.Task("web:1").Memory(2048).Obj(), 4)
	require.NoError(t, err)
	assert.Equal(t, []string{"large", "large", "large", "medium"}, instancesOf(ds), "ties go to the first candidate")

	// Request strategies replace the scheduler's default chain.
	ds, err = s.NewRound(threeInstances(), 1).Place(testutil.Task("web:1").Memory(2048).Binpack("memory").Obj(), 1)
	require.NoError(t, err)
	assert.Equal(t, []string{"medium"}, instancesOf(ds))

	s, err = placement.New(placement.WithStrategies(emptyStrategy{}))
	require.NoError(t, err)
	_, err = s.NewRound(threeInstances(), 1).Place(testutil.Task("web:1").Obj(), 1)
	require.ErrorIs(t, err, placement.ErrPlugin)
	assert.EqualError(t, err, "placement: plug-in empty: selected no instance out of a non-empty list")
}

func TestOptionsRejectNil(t *testing.T) {
	t.Parallel()
	_, err := placement.New(placement.WithFilters(nil))
	var fe *errdefs.FieldError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "filters[0]", fe.Path)
	_, err = placement.New(placement.WithStrategies(worstFit{}, nil))
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "strategies[1]", fe.Path)
}

func TestStatus(t *testing.T) {
	t.Parallel()
	var ok *placement.Status
	assert.True(t, ok.IsSuccess())
	assert.Equal(t, placement.CodeSuccess, ok.Code())
	assert.Equal(t, "Success", ok.String())
	assert.Empty(t, ok.Reason())
	assert.NoError(t, ok.Err())

	unfit := placement.Unfit("GPU")
	assert.False(t, unfit.IsSuccess())
	assert.Equal(t, placement.CodeUnfit, unfit.Code())
	assert.Equal(t, placement.Reason("GPU"), unfit.Reason())
	assert.Equal(t, "Unfit: GPU", unfit.String())

	broken := placement.Broken(errors.New("boom"))
	assert.Equal(t, placement.CodeError, broken.Code())
	assert.EqualError(t, broken.Err(), "boom")
	assert.Equal(t, "Error: boom", broken.String())
	assert.Equal(t, "Error", placement.CodeError.String())
	assert.Error(t, placement.Broken(nil).Err())
}

func TestStrategyNames(t *testing.T) {
	t.Parallel()
	for spec, want := range map[placement.StrategySpec]string{
		placement.Binpack(placement.FieldCPU):                           "binpack(cpu)",
		placement.Spread("attribute:ecs.availability-zone"):             "spread(attribute:ecs.availability-zone)",
		placement.Spread(placement.FieldInstanceID):                     "spread(instanceId)",
		placement.Random():                                              "random",
		{Type: placement.StrategyBinpack, Field: placement.FieldMemory}: "binpack(memory)",
	} {
		s, err := spec.Strategy()
		require.NoError(t, err)
		assert.Equal(t, want, s.Name())
	}
	_, err := placement.Spread("zone").Strategy()
	var fe *errdefs.FieldError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "placementStrategy.field", fe.Path)
}
