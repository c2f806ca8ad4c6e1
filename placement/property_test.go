package placement_test

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/internal/testutil"
	"github.com/stevedore-io/stevedore/placement"
	"github.com/stevedore-io/stevedore/placement/query"
)

var (
	genGroups  = []string{"service:web", "service:db", "family:batch"}
	genAZs     = []string{"a", "b", "c"}
	genTypes   = []string{"m5.large", "m5.xlarge", "c5.large"}
	genPorts   = []cluster.Port{cluster.TCPPort(80), cluster.TCPPort(443), cluster.UDPPort(53), cluster.TCPPort(49153), cluster.TCPPort(49155)}
	genQueries = []string{
		"attribute:ecs.instance-type =~ m5.*",
		"attribute:ecs.availability-zone in [a, b]",
		"not(task:group == service:db)",
		"runningTasksCount < 4",
		"attribute:ecs.instance-type == c5.large or task:group == service:web",
		"attribute:gpu exists",
	}
	genStrategies = []placement.StrategySpec{
		placement.Binpack(placement.FieldCPU),
		placement.Binpack(placement.FieldMemory),
		placement.Spread(placement.FieldInstanceID),
		placement.Spread("attribute:ecs.availability-zone"),
		placement.Spread("attribute:ecs.instance-type"),
	}
)

// genInstances draws a small, varied cluster: sizes, zones (some missing),
// statuses, agents, providers, tasks and ports already there.
func genInstances(t *rapid.T) []cluster.ContainerInstance {
	n := rapid.IntRange(0, 25).Draw(t, "instances")
	out := make([]cluster.ContainerInstance, 0, n)
	for i := range n {
		b := testutil.Instance(fmt.Sprintf("i-%02d", i)).
			CPU(rapid.IntRange(0, 8).Draw(t, "cpu") * 512).
			Memory(rapid.IntRange(0, 8).Draw(t, "memory") * 1024).
			NetworkSlots(rapid.IntRange(0, 3).Draw(t, "slots")).
			InstanceType(rapid.SampledFrom(genTypes).Draw(t, "type"))
		if rapid.IntRange(0, 9).Draw(t, "hasAZ") > 0 {
			b.AZ(rapid.SampledFrom(genAZs).Draw(t, "az"))
		}
		if rapid.Bool().Draw(t, "gpu") {
			b.Attr("gpu", "true")
		}
		switch rapid.IntRange(0, 9).Draw(t, "status") {
		case 0:
			b.Draining()
		case 1:
			b.Status(cluster.StatusInactive)
		case 2:
			b.Disconnected()
		}
		b.Provider(rapid.SampledFrom([]string{"", "on-demand", "spot"}).Draw(t, "provider"))
		for _, g := range genGroups {
			if k := rapid.IntRange(0, 3).Draw(t, "tasks") - 1; k > 0 {
				b.Tasks(g, k)
			}
		}
		for _, p := range genPorts {
			if rapid.IntRange(0, 4).Draw(t, "portUsed") == 0 {
				b.UsedPorts(p)
			}
		}
		out = append(out, b.Obj())
	}
	return out
}

// genRequest draws a request; random strategies only when withRandom.
func genRequest(t *rapid.T, withRandom bool) *placement.Request {
	b := testutil.Task("web:1").
		Group(rapid.SampledFrom(genGroups).Draw(t, "group")).
		CPU(rapid.IntRange(0, 4).Draw(t, "rcpu") * 256).
		Memory(rapid.IntRange(0, 4).Draw(t, "rmem") * 512)
	for _, p := range []cluster.Port{cluster.TCPPort(80), cluster.UDPPort(53), cluster.TCPPort(49154)} {
		if rapid.IntRange(0, 3).Draw(t, "rport") == 0 {
			b.Ports(p)
		}
	}
	for range rapid.IntRange(0, 2).Draw(t, "dynamic") {
		b.DynamicPort()
	}
	if rapid.IntRange(0, 3).Draw(t, "awsvpc") == 0 {
		b.AWSVPC()
	}
	if rapid.IntRange(0, 2).Draw(t, "distinct") == 0 {
		b.DistinctInstance()
	}
	for range rapid.IntRange(0, 2).Draw(t, "memberOf") {
		b.MemberOf(rapid.SampledFrom(genQueries).Draw(t, "query"))
	}
	for range rapid.IntRange(0, 4).Draw(t, "strategies") {
		s := rapid.SampledFrom(genStrategies).Draw(t, "strategy")
		if withRandom && rapid.IntRange(0, 3).Draw(t, "random") == 0 {
			s = placement.Random()
		}
		b.Strategy(s)
	}
	if rapid.IntRange(0, 3).Draw(t, "hasProvider") == 0 {
		b.Provider(rapid.SampledFrom([]string{"on-demand", "spot"}).Draw(t, "rprovider"))
	}
	return b.Obj()
}

// checkDecisions applies decisions to clones of instances, one by one,
// checking before each that the instance could take the task (status,
// agent, provider, constraints as they stood), and that AddTask accepts
// it: no instance is ever overcommitted.
func checkDecisions(t require.TestingT, instances []cluster.ContainerInstance, req *placement.Request, ds []placement.Decision) []cluster.ContainerInstance {
	state := make([]cluster.ContainerInstance, len(instances))
	byID := map[string]*cluster.ContainerInstance{}
	for i := range instances {
		state[i] = instances[i].Clone()
		byID[state[i].ID] = &state[i]
	}
	group := req.Group
	for _, d := range ds {
		ci, ok := byID[d.Instance]
		require.True(t, ok, "decision for unknown instance %s", d.Instance)
		require.Equal(t, cluster.StatusActive, ci.Status)
		require.True(t, ci.AgentConnected)
		require.Equal(t, group, d.Group)
		require.Equal(t, ci.CapacityProvider, d.CapacityProvider)
		if req.CapacityProvider != "" {
			require.Equal(t, req.CapacityProvider, ci.CapacityProvider)
		}
		require.Len(t, d.Resources.Ports, len(req.Ports))
		for i, p := range req.Ports {
			if p.Number != 0 {
				require.Equal(t, p, d.Resources.Ports[i])
			} else {
				require.GreaterOrEqual(t, int(d.Resources.Ports[i].Number), placement.DynamicPortFirst)
			}
		}
		for _, c := range req.Constraints {
			switch c.Type {
			case placement.ConstraintDistinctInstance:
				require.Zero(t, ci.TaskGroups[group], "distinctInstance broken on %s", ci.ID)
			case placement.ConstraintMemberOf:
				require.True(t, query.MustParse(c.Expression).Eval(naiveTarget{ci}), "memberOf(%s) broken on %s", c.Expression, ci.ID)
			}
		}
		require.NoError(t, ci.AddTask(d.Group, d.Resources), "overcommitted %s", ci.ID)
		require.NoError(t, ci.Validate())
	}
	return state
}

// TestPropertyIndexScanAndNaiveAgree places random requests on random
// clusters three ways - the index, the general path, and the naive
// reference - and requires the same decisions and the same failure. It also
// checks every decision (no overcommit, constraints hold) and that a
// failure's explanation accounts for every instance with none fitting.
func TestPropertyIndexScanAndNaiveAgree(t *testing.T) {
	t.Parallel()
	indexed, err := placement.New()
	require.NoError(t, err)
	scan, err := placement.New(placement.WithScanOnly())
	require.NoError(t, err)
	rapid.Check(t, func(t *rapid.T) {
		instances := genInstances(t)
		pristine := cloneAll(instances)
		req := genRequest(t, false)
		count := rapid.IntRange(1, 40).Draw(t, "count")
		seed := rapid.Uint64().Draw(t, "seed")

		got, gotErr := indexed.NewRound(instances, seed).Place(req, count)
		viaScan, scanErr := scan.NewRound(instances, seed).Place(req, count)
		want, wantErr := naivePlace(cloneAll(instances), req, count)

		require.Equal(t, pristine, instances, "a round must not change its instances")
		require.Equal(t, nilIfEmpty(want), nilIfEmpty(got), "index vs naive")
		require.Equal(t, nilIfEmpty(want), nilIfEmpty(viaScan), "scan vs naive")
		require.Equal(t, wantErr == nil, gotErr == nil, "index error %v, naive error %v", gotErr, wantErr)
		require.Equal(t, wantErr == nil, scanErr == nil, "scan error %v, naive error %v", scanErr, wantErr)
		checkDecisions(t, instances, req, got)
		if gotErr != nil {
			checkNoFit(t, gotErr, len(instances), len(got), count)
			require.Equal(t, gotErr.Error(), scanErr.Error())
		}
	})
}

func checkNoFit(t require.TestingT, err error, instances, placed, count int) {
	require.ErrorIs(t, err, placement.ErrNoFit)
	var nf *placement.NoFitError
	require.ErrorAs(t, err, &nf)
	require.Zero(t, nf.Fit, "nothing fits when placement gives up")
	n := 0
	for _, rc := range nf.Reasons {
		n += rc.Instances
	}
	require.Equal(t, instances, n, "every instance is counted once")
	require.Equal(t, instances, nf.Instances)
	require.Equal(t, placed, nf.Placed)
	require.Equal(t, count, nf.Requested)
}

// TestPropertyRandomChains checks chains with random strategies: decisions
// are valid, reproducible with the same seed on both paths, and failures
// are explained.
func TestPropertyRandomChains(t *testing.T) {
	t.Parallel()
	for path, s := range schedulers(t) {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			rapid.Check(t, func(t *rapid.T) {
				instances := genInstances(t)
				req := genRequest(t, true)
				count := rapid.IntRange(1, 40).Draw(t, "count")
				seed := rapid.Uint64().Draw(t, "seed")
				first, err1 := s.NewRound(instances, seed).Place(req, count)
				again, err2 := s.NewRound(instances, seed).Place(req, count)
				require.Equal(t, first, again, "same seed, same decisions")
				require.Equal(t, fmt.Sprint(err1), fmt.Sprint(err2))
				checkDecisions(t, instances, req, first)
				if err1 != nil {
					checkNoFit(t, err1, len(instances), len(first), count)
				}
			})
		})
	}
}

// TestPropertySpreadBalances: on a fresh cluster where every zone can hold
// its share, spreading on the zone never leaves two zones more than one
// task apart, whatever breaks the ties.
func TestPropertySpreadBalances(t *testing.T) {
	t.Parallel()
	for path, s := range schedulers(t) {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			rapid.Check(t, func(t *rapid.T) {
				zones := genAZs[:rapid.IntRange(1, len(genAZs)).Draw(t, "zones")]
				capacity := map[string]int{}
				var instances []cluster.ContainerInstance
				for i := range rapid.IntRange(len(zones), 20).Draw(t, "instances") {
					az := zones[i%len(zones)]
					slots := rapid.IntRange(1, 6).Draw(t, "tasksPerInstance")
					capacity[az] += slots
					instances = append(instances, testutil.Instance(fmt.Sprintf("i-%02d", i)).AZ(az).
						Memory(slots*512+rapid.IntRange(0, 511).Draw(t, "slack")).Obj())
				}
				least := slices.Min(slices.Collect(maps.Values(capacity)))
				count := rapid.IntRange(1, least*len(zones)).Draw(t, "count")
				b := testutil.Task("web:1").Service("web").CPU(0).Memory(512).SpreadAZ()
				switch rapid.IntRange(0, 3).Draw(t, "tieBreaker") {
				case 1:
					b.Binpack(placement.FieldMemory)
				case 2:
					b.Spread(placement.FieldInstanceID)
				case 3:
					b.Random()
				}
				ds, err := s.NewRound(instances, rapid.Uint64().Draw(t, "seed")).Place(b.Obj(), count)
				require.NoError(t, err)
				zoneOf := map[string]string{}
				for _, ci := range instances {
					zoneOf[ci.ID] = ci.Attributes[cluster.AttributeAvailabilityZone]
				}
				perZone := map[string]int{}
				for _, z := range zones {
					perZone[z] = 0
				}
				for i, d := range ds {
					perZone[zoneOf[d.Instance]]++
					counts := slices.Collect(maps.Values(perZone))
					require.LessOrEqual(t, slices.Max(counts)-slices.Min(counts), 1, "after %d tasks: %v", i+1, perZone)
				}
			})
		})
	}
}

// TestPropertyNeverOvercommits runs several requests through one round and
// applies all their decisions: whatever the mix, AddTask accepts every one.
func TestPropertyNeverOvercommits(t *testing.T) {
	t.Parallel()
	s, err := placement.New()
	require.NoError(t, err)
	rapid.Check(t, func(t *rapid.T) {
		instances := genInstances(t)
		r := s.NewRound(instances, rapid.Uint64().Draw(t, "seed"))
		state := cloneAll(instances)
		for range rapid.IntRange(1, 5).Draw(t, "requests") {
			req := genRequest(t, true)
			ds, err := r.Place(req, rapid.IntRange(1, 20).Draw(t, "count"))
			if err != nil && !errors.Is(err, placement.ErrNoFit) {
				t.Fatal(err)
			}
			state = checkDecisions(t, state, req, ds)
		}
		for i := range state {
			inf := r.Instance(i)
			assert.Equal(t, state[i].Remaining.CPU, inf.RemainingCPU())
			assert.Equal(t, state[i].Remaining.Memory, inf.RemainingMemory())
			assert.Equal(t, state[i].Remaining.NetworkSlots, inf.RemainingNetworkSlots())
			assert.Equal(t, state[i].DesiredRunningTasks(), inf.RunningTasksCount())
			for _, p := range state[i].Remaining.Ports {
				assert.True(t, inf.PortInUse(p))
			}
		}
	})
}

func nilIfEmpty(ds []placement.Decision) []placement.Decision {
	if len(ds) == 0 {
		return nil
	}
	return ds
}

func cloneAll(in []cluster.ContainerInstance) []cluster.ContainerInstance {
	out := make([]cluster.ContainerInstance, len(in))
	for i := range in {
		out[i] = in[i].Clone()
	}
	return out
}
