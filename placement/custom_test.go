package placement_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/errdefs"
	"github.com/stevedore-io/stevedore/internal/testutil"
	"github.com/stevedore-io/stevedore/placement"
)

// preferAttr keeps the candidates whose attribute (the spec's field) is
// "true"; it is registered as the strategy type "prefer".
type preferAttr struct{ attr string }

func (p preferAttr) Name() string { return "prefer(" + p.attr + ")" }

func (p preferAttr) Select(_ *placement.Round, _ *placement.Request, c []*placement.InstanceInfo) ([]*placement.InstanceInfo, *placement.Status) {
	var out []*placement.InstanceInfo
	for _, inst := range c {
		if v, _ := inst.Attribute(p.attr); v == "true" {
			out = append(out, inst)
		}
	}
	if len(out) == 0 {
		return c, nil
	}
	return out, nil
}

func buildPrefer(field string) (placement.Strategy, error) {
	if field == "" {
		return nil, errors.New("needs an attribute name")
	}
	return preferAttr{attr: field}, nil
}

// buildNotDisk makes a filter turning down instances whose disk
// attribute is the expression, for the constraint type "not-disk".
func buildNotDisk(expr string) (placement.Filter, error) {
	if expr == "" {
		return nil, errors.New("names no disk")
	}
	return notDisk(expr), nil
}

type notDisk string

func (d notDisk) Name() string { return "not-disk" }

func (d notDisk) Filter(_ *placement.Request, inst *placement.InstanceInfo) *placement.Status {
	if v, _ := inst.Attribute("disk"); v == string(d) {
		return placement.Unfit(placement.Reason("Disk:" + string(d)))
	}
	return nil
}

func customScheduler(t *testing.T) *placement.Scheduler {
	t.Helper()
	s, err := placement.New(placement.WithStrategyType("prefer", buildPrefer), placement.WithConstraintType("not-disk", buildNotDisk))
	require.NoError(t, err)
	return s
}

func TestNamedCustomStrategyPlaces(t *testing.T) {
	t.Parallel()
	s := customScheduler(t)
	insts := threeInstances()
	insts[0].SetAttribute("fast", "true") // small
	insts[2].SetAttribute("fast", "true") // medium
	r := s.NewRound(insts, 1)
	// prefer(fast) keeps small and medium; binpack(memory) breaks the tie
	// while small has room, then medium takes the rest.
	ds, err := r.Place(testutil.Task("web:1").Memory(512).Strategy(placement.StrategySpec{Type: "prefer", Field: "fast"}).Binpack("memory").Obj(), 4)
	require.NoError(t, err)
	assert.Equal(t, []string{"small", "small", "medium", "medium"}, instancesOf(ds))
}

func TestNamedCustomConstraintFilters(t *testing.T) {
	t.Parallel()
	s := customScheduler(t)
	r := s.NewRound(threeInstances(), 1)
	req := testutil.Task("web:1").Memory(1024).Binpack("memory").Obj()
	req.Constraints = []placement.Constraint{{Type: "not-disk", Expression: "ssd"}}
	ds, err := r.Place(req, 2)
	assert.Equal(t, []string{"small"}, instancesOf(ds), "only small has no ssd")
	var nf *placement.NoFitError
	require.ErrorAs(t, err, &nf)
	assert.Equal(t, "2 instances: Disk:ssd; 1 instance: RESOURCE:MEMORY", nf.Explanation.String())
	assert.Equal(t, `The closest matching container-instance large encountered error "Disk:ssd".`, nf.ClosestMatch())

	// Requests that do not name the constraint are not filtered.
	ds, err = r.Place(testutil.Task("api:1").Memory(1024).Binpack("memory").Obj(), 1)
	require.NoError(t, err)
	assert.Equal(t, []string{"medium"}, instancesOf(ds))
}

func TestUnknownOrRefusedCustomTypesAreFieldErrors(t *testing.T) {
	t.Parallel()
	s := customScheduler(t)
	tests := []struct {
		name       string
		strategies []placement.StrategySpec
		cons       []placement.Constraint
		path       string
		reason     string
	}{
		{name: "unknown strategy", strategies: []placement.StrategySpec{placement.Random(), {Type: "gpu-first"}},
			path: "placementStrategy[1].type", reason: `"gpu-first" must be a strategy type the scheduler knows: binpack, spread, random, prefer`},
		{name: "refused field", strategies: []placement.StrategySpec{{Type: "prefer"}},
			path: "placementStrategy[0].field", reason: `"" is refused by strategy prefer: needs an attribute name`},
		{name: "bad built-in", strategies: []placement.StrategySpec{{Type: "binpack", Field: "gpu"}},
			path: "placementStrategy[0].field", reason: `"gpu" must be cpu or memory for binpack`},
		{name: "unknown constraint", cons: []placement.Constraint{{Type: "maintenance"}},
			path: "placementConstraints[0].type", reason: `"maintenance" must be a constraint type the scheduler knows: distinctInstance, memberOf, not-disk`},
		{name: "refused expression", cons: []placement.Constraint{{Type: "distinctInstance"}, {Type: "not-disk"}},
			path: "placementConstraints[1].expression", reason: `"" is refused by constraint not-disk: names no disk`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			check := func(err error) {
				t.Helper()
				require.ErrorIs(t, err, placement.ErrInvalid)
				var fe *errdefs.FieldError
				require.ErrorAs(t, err, &fe)
				assert.Equal(t, tt.path, fe.Path)
				assert.Equal(t, tt.reason, fe.Reason)
			}
			req := testutil.Task("web:1").Obj()
			req.Strategies, req.Constraints = tt.strategies, tt.cons
			ds, err := s.NewRound(threeInstances(), 1).Place(req, 1)
			assert.Empty(t, ds)
			check(err)
			if tt.strategies != nil {
				check(s.CheckStrategies(tt.strategies))
			} else {
				check(s.CheckConstraints(tt.cons))
			}
		})
	}
	require.NoError(t, s.CheckStrategies([]placement.StrategySpec{{Type: "prefer", Field: "fast"}, placement.Binpack("cpu")}))
	require.NoError(t, s.CheckConstraints([]placement.Constraint{{Type: "not-disk", Expression: "hdd"}, {Type: "memberOf", Expression: "attribute:disk == ssd"}}))
}

func TestCustomTypeRegistrationIsChecked(t *testing.T) {
	t.Parallel()
	tests := map[string]placement.Option{
		"built-in strategy":   placement.WithStrategyType("spread", buildPrefer),
		"empty strategy":      placement.WithStrategyType("", buildPrefer),
		"nil builder":         placement.WithStrategyType("prefer", nil),
		"built-in constraint": placement.WithConstraintType("memberOf", buildNotDisk),
		"nil filter builder":  placement.WithConstraintType("not-disk", nil),
	}
	for name, opt := range tests {
		_, err := placement.New(opt)
		require.ErrorIs(t, err, placement.ErrInvalid, name)
	}
	_, err := placement.New(placement.WithStrategyType("prefer", buildPrefer), placement.WithStrategyType("prefer", buildPrefer))
	require.ErrorIs(t, err, placement.ErrInvalid, "registered twice")
	s := customScheduler(t)
	assert.Equal(t, []placement.StrategyType{"prefer"}, s.StrategyTypes())
	assert.Equal(t, []placement.ConstraintType{"not-disk"}, s.ConstraintTypes())
}

func TestSchedulerStrategyBuildsBuiltinsAndCustom(t *testing.T) {
	t.Parallel()
	s := customScheduler(t)
	for _, spec := range []placement.StrategySpec{placement.Binpack("memory"), {Type: "prefer", Field: "gpu"}} {
		st, err := s.Strategy(spec)
		require.NoError(t, err)
		assert.Contains(t, st.Name(), fmt.Sprint(spec.Field))
	}
	st, err := s.Strategy(placement.StrategySpec{Type: "nope"})
	assert.Nil(t, st, "no typed nil in the interface")
	require.ErrorIs(t, err, placement.ErrInvalid)
}

func TestSpecsHaveECSJSONShape(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal([]placement.StrategySpec{{Type: "prefer", Field: "gpu"}, placement.Random()})
	require.NoError(t, err)
	assert.JSONEq(t, `[{"type":"prefer","field":"gpu"},{"type":"random"}]`, string(b))
	b, err = json.Marshal(placement.Constraint{Type: "not-disk", Expression: "ssd"})
	require.NoError(t, err)
	assert.JSONEq(t, `{"type":"not-disk","expression":"ssd"}`, string(b))
	// What stores wrote before the tags (Go's field names) still reads.
	var old placement.StrategySpec
	require.NoError(t, json.Unmarshal([]byte(`{"Type":"spread","Field":"instanceId"}`), &old))
	assert.Equal(t, placement.Spread("instanceId"), old)
}

func TestConstraintFiltersOfCustomTypes(t *testing.T) {
	t.Parallel()
	s := customScheduler(t)
	fs, err := s.ConstraintFilters([]placement.Constraint{{Type: "distinctInstance"}, {Type: "not-disk", Expression: "ssd"}, {Type: "memberOf", Expression: "attribute:a == b"}})
	require.NoError(t, err)
	require.Len(t, fs, 1)
	assert.Equal(t, "not-disk", fs[0].Name())
	_, err = s.ConstraintFilters([]placement.Constraint{{Type: "nope"}})
	require.ErrorIs(t, err, placement.ErrInvalid)
}
