package placement_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/errdefs"
	"github.com/stevedore-io/stevedore/internal/testutil"
	"github.com/stevedore-io/stevedore/placement"
	"github.com/stevedore-io/stevedore/placement/query"
)

// schedulers returns the engine with its index and without, so that every
// behaviour is checked on both paths.
func schedulers(t *testing.T, opts ...placement.Option) map[string]*placement.Scheduler {
	t.Helper()
	indexed, err := placement.New(opts...)
	require.NoError(t, err)
	scan, err := placement.New(append(opts, placement.WithScanOnly())...)
	require.NoError(t, err)
	return map[string]*placement.Scheduler{"index": indexed, "scan": scan}
}

func instancesOf(ds []placement.Decision) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.Instance
	}
	return out
}

func TestPlaceChoosesInstances(t *testing.T) {
	t.Parallel()
	azA := func(id string) *testutil.InstanceBuilder { return testutil.Instance(id).AZ("a") }
	tests := []struct {
		name      string
		instances []cluster.ContainerInstance
		req       *placement.Request
		count     int
		want      []string
	}{
		{
			name: "binpack memory takes the least remaining memory that fits",
			instances: []cluster.ContainerInstance{
				azA("big").Memory(8192).Obj(),
				azA("too-small").Memory(256).Obj(),
				azA("snug").Memory(1024).Obj(),
				azA("medium").Memory(2048).Obj(),
			},
			req:   testutil.Task("web:1").Memory(512).Binpack("memory").Obj(),
			count: 4,
			want:  []string{"snug", "snug", "medium", "medium"},
		},
		{
			name: "binpack cpu",
			instances: []cluster.ContainerInstance{
				azA("a").CPU(4096).Obj(),
				azA("b").CPU(1024).Obj(),
			},
			req:   testutil.Task("web:1").CPU(512).Binpack("cpu").Obj(),
			count: 3,
			want:  []string{"b", "b", "a"},
		},
		{
			name: "spread instanceId counts tasks already there",
			instances: []cluster.ContainerInstance{
				azA("busy").Tasks("family:web", 2).Obj(),
				azA("one").Tasks("family:web", 1).Obj(),
				azA("idle").Tasks("family:other", 5).Obj(),
			},
			req:   testutil.Task("web:1").Spread("instanceId").Obj(),
			count: 4,
			want:  []string{"idle", "one", "idle", "busy"},
		},
		{
			name: "host is instanceId",
			instances: []cluster.ContainerInstance{
				azA("x").Tasks("family:web", 1).Obj(),
				azA("y").Obj(),
			},
			req:   testutil.Task("web:1").Spread("host").Obj(),
			count: 2,
			want:  []string{"y", "x"},
		},
		{
			name: "spread on an attribute balances values, then binpack breaks ties",
			instances: []cluster.ContainerInstance{
				testutil.Instance("a1").AZ("a").Memory(4096).Obj(),
				testutil.Instance("a2").AZ("a").Memory(2048).Obj(),
				testutil.Instance("b1").AZ("b").Memory(4096).Obj(),
				testutil.Instance("c1").AZ("c").Memory(1024).Tasks("service:web", 1).Obj(),
			},
			req:   testutil.Task("web:1").Service("web").Memory(512).SpreadAZ().Binpack("memory").Obj(),
			count: 5,
			// a=0 b=0 c=1: a2 (less memory than b1); then b1; then all
			// three tie at 1 and c1 has the least memory.
			want: []string{"a2", "b1", "c1", "a2", "b1"},
		},
		{
			name: "instances without the attribute form a value of their own",
			instances: []cluster.ContainerInstance{
				testutil.Instance("a1").AZ("a").Obj(),
				testutil.Instance("a2").AZ("a").Obj(),
				testutil.Instance("none").Obj(),
			},
			req:   testutil.Task("web:1").SpreadAZ().Obj(),
			count: 3,
			want:  []string{"a1", "none", "a1"},
		},
		{
			name: "spread AZ then spread instanceId",
			instances: []cluster.ContainerInstance{
				testutil.Instance("a1").AZ("a").Obj(),
				testutil.Instance("a2").AZ("a").Obj(),
				testutil.Instance("b1").AZ("b").Obj(),
			},
			req:   testutil.Task("web:1").SpreadAZ().Spread("instanceId").Obj(),
			count: 4,
			want:  []string{"a1", "b1", "a2", "b1"},
		},
		{
			name: "binpack first, spread breaks its ties",
			instances: []cluster.ContainerInstance{
				testutil.Instance("a1").AZ("a").Memory(1024).Tasks("family:web", 1).Obj(),
				testutil.Instance("b1").AZ("b").Memory(1024).Obj(),
				testutil.Instance("c1").AZ("c").Memory(4096).Obj(),
			},
			req:   testutil.Task("web:1").Memory(512).Binpack("memory").SpreadAZ().Obj(),
			count: 3,
			want:  []string{"b1", "b1", "a1"},
		},
		{
			name: "two spread attributes",
			instances: []cluster.ContainerInstance{
				testutil.Instance("a-m5").AZ("a").InstanceType("m5").Obj(),
				testutil.Instance("a-c5").AZ("a").InstanceType("c5").Obj(),
				testutil.Instance("b-m5").AZ("b").InstanceType("m5").Obj(),
			},
			req:   testutil.Task("web:1").SpreadAZ().Spread("attribute:ecs.instance-type").Obj(),
			count: 4,
			want:  []string{"a-m5", "b-m5", "a-c5", "b-m5"},
		},
		{
			name: "no strategy: first fitting instance in round order",
			instances: []cluster.ContainerInstance{
				azA("full").Memory(100).Obj(),
				azA("first").Memory(1024).Obj(),
				azA("second").Memory(8192).Obj(),
			},
			req:   testutil.Task("web:1").Memory(512).Obj(),
			count: 3,
			want:  []string{"first", "first", "second"},
		},
		{
			name: "only ACTIVE instances with a connected agent",
			instances: []cluster.ContainerInstance{
				azA("draining").Draining().Obj(),
				azA("inactive").Status(cluster.StatusInactive).Obj(),
				azA("registering").Status(cluster.StatusRegistering).Obj(),
				azA("disconnected").Disconnected().Obj(),
				azA("ok").Obj(),
			},
			req:   testutil.Task("web:1").Obj(),
			count: 2,
			want:  []string{"ok", "ok"},
		},
		{
			name: "capacity provider",
			instances: []cluster.ContainerInstance{
				azA("od").Provider("on-demand").Obj(),
				azA("spot").Provider("spot").Obj(),
			},
			req:   testutil.Task("web:1").Provider("spot").Obj(),
			count: 1,
			want:  []string{"spot"},
		},
		{
			name: "distinctInstance counts tasks placed earlier in the batch",
			instances: []cluster.ContainerInstance{
				azA("has-one").Tasks("service:web", 1).Obj(),
				azA("x").Obj(),
				azA("y").Tasks("service:other", 1).Obj(),
			},
			req:   testutil.Task("web:1").Service("web").DistinctInstance().Obj(),
			count: 2,
			want:  []string{"x", "y"},
		},
		{
			name: "memberOf on an attribute",
			instances: []cluster.ContainerInstance{
				azA("c5").InstanceType("c5.large").Obj(),
				azA("m5").InstanceType("m5.xlarge").Obj(),
			},
			req:   testutil.Task("web:1").MemberOf("attribute:ecs.instance-type =~ m5.*").Obj(),
			count: 2,
			want:  []string{"m5", "m5"},
		},
		{
			name: "memberOf on task:group sees the batch",
			instances: []cluster.ContainerInstance{
				azA("db").Tasks("service:db", 1).Obj(),
				azA("empty").Obj(),
			},
			req:   testutil.Task("web:1").Service("web").MemberOf("not(task:group == service:web)").Obj(),
			count: 2,
			want:  []string{"db", "empty"},
		},
		{
			name: "memberOf on runningTasksCount sees the batch",
			instances: []cluster.ContainerInstance{
				azA("one").Tasks("service:x", 1).Obj(),
				azA("none").Obj(),
			},
			req:   testutil.Task("web:1").MemberOf("runningTasksCount < 2").Obj(),
			count: 3,
			want:  []string{"one", "none", "none"},
		},
		{
			name: "a static host port once per instance",
			instances: []cluster.ContainerInstance{
				azA("taken").UsedPorts(cluster.TCPPort(80)).Obj(),
				azA("x").Obj(),
				azA("y").Obj(),
			},
			req:   testutil.Task("web:1").Port(80).Obj(),
			count: 2,
			want:  []string{"x", "y"},
		},
		{
			name: "udp and tcp ports are separate",
			instances: []cluster.ContainerInstance{
				azA("udp-taken").UsedPorts(cluster.UDPPort(53)).Obj(),
			},
			req:   testutil.Task("dns:1").Port(53).Obj(),
			count: 1,
			want:  []string{"udp-taken"},
		},
		{
			name: "network slots",
			instances: []cluster.ContainerInstance{
				azA("none").Obj(),
				azA("two").NetworkSlots(2).Obj(),
				azA("one").NetworkSlots(1).Obj(),
			},
			req:   testutil.Task("web:1").AWSVPC().Obj(),
			count: 3,
			want:  []string{"two", "two", "one"},
		},
	}
	for _, tt := range tests {
		for path, s := range schedulers(t) {
			t.Run(tt.name+"/"+path, func(t *testing.T) {
				t.Parallel()
				r := s.NewRound(tt.instances, 1)
				ds, err := r.Place(tt.req, tt.count)
				require.NoError(t, err)
				assert.Equal(t, tt.want, instancesOf(ds))
			})
		}
	}
}

func TestDynamicPorts(t *testing.T) {
	t.Parallel()
	for path, s := range schedulers(t) {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			insts := []cluster.ContainerInstance{
				testutil.Instance("i-1").UsedPorts(cluster.TCPPort(49153), cluster.TCPPort(49155), cluster.UDPPort(49154)).Obj(),
			}
			r := s.NewRound(insts, 1)
			req := testutil.Task("web:1").CPU(0).Memory(0).DynamicPort().Port(49154).DynamicPort().UDPPort(0).Obj()
			ds, err := r.Place(req, 1)
			require.NoError(t, err)
			require.Len(t, ds, 1)
			tcp, udp := cluster.TCPPort, cluster.UDPPort
			assert.Equal(t, []cluster.Port{tcp(49156), tcp(49154), tcp(49157), udp(49153)}, ds[0].Resources.Ports,
				"lowest free ports, the fixed port taken first, in request order")
			// A second task cannot have 49154/tcp: it is taken now.
			_, err = r.Place(req, 1)
			require.ErrorIs(t, err, placement.ErrNoFit)
			ds, err = r.Place(testutil.Task("web:1").CPU(0).Memory(0).DynamicPort().DynamicPort().Obj(), 1)
			require.NoError(t, err)
			assert.Equal(t, []cluster.Port{tcp(49158), tcp(49159)}, ds[0].Resources.Ports)
		})
	}
}

func TestDynamicPortsRunOut(t *testing.T) {
	t.Parallel()
	var used []cluster.Port
	for n := placement.DynamicPortFirst; n < placement.DynamicPortLast; n++ {
		used = append(used, cluster.TCPPort(uint16(n)))
	}
	insts := []cluster.ContainerInstance{testutil.Instance("i-1").UsedPorts(used...).Obj()}
	for path, s := range schedulers(t) {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			r := s.NewRound(insts, 1)
			ds, err := r.Place(testutil.Task("web:1").CPU(0).Memory(0).DynamicPort().Obj(), 2)
			require.Len(t, ds, 1)
			assert.Equal(t, []cluster.Port{cluster.TCPPort(placement.DynamicPortLast)}, ds[0].Resources.Ports)
			var nf *placement.NoFitError
			require.ErrorAs(t, err, &nf)
			assert.Equal(t, []placement.ReasonCount{{Reason: placement.ReasonPorts, Instances: 1}}, nf.Reasons)
		})
	}
}

func TestBatchAccountsForEarlierPlacements(t *testing.T) {
	t.Parallel()
	for path, s := range schedulers(t) {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			insts := []cluster.ContainerInstance{
				testutil.Instance("i-1").CPU(1024).Memory(1024).Obj(),
				testutil.Instance("i-2").CPU(1024).Memory(1024).Obj(),
			}
			r := s.NewRound(insts, 1)
			ds, err := r.Place(testutil.Task("web:1").CPU(512).Memory(256).Obj(), 4)
			require.NoError(t, err)
			assert.Equal(t, []string{"i-1", "i-1", "i-2", "i-2"}, instancesOf(ds))
			// A second request in the same round sees the first one.
			_, err = r.Place(testutil.Task("db:1").CPU(1).Memory(1).Obj(), 1)
			var nf *placement.NoFitError
			require.ErrorAs(t, err, &nf)
			assert.Equal(t, []placement.ReasonCount{{Reason: placement.ReasonCPU, Instances: 2}}, nf.Reasons)
			assert.Equal(t, 512, r.Instance(0).RemainingMemory())
			assert.Equal(t, 2, r.Instance(1).TaskGroupCount("family:web"))
			assert.Equal(t, 2, r.Instance(1).RunningTasksCount())
			// The instances given to the round are untouched.
			assert.Equal(t, 1024, insts[0].Remaining.CPU)
		})
	}
}

func TestNoFitErrorExplains(t *testing.T) {
	t.Parallel()
	insts := []cluster.ContainerInstance{
		testutil.Instance("m1").Memory(256).InstanceType("m5.large").Obj(),
		testutil.Instance("m2").Memory(256).InstanceType("m5.large").Obj(),
		testutil.Instance("m3").Memory(100).InstanceType("m5.large").Obj(),
		testutil.Instance("d1").Draining().InstanceType("m5.large").Obj(),
		testutil.Instance("c1").InstanceType("c5.large").Obj(),
		testutil.Instance("c2").InstanceType("c5.large").Obj(),
	}
	for path, s := range schedulers(t) {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			r := s.NewRound(insts, 42)
			req := testutil.Task("web:3").Memory(512).MemberOf("attribute:ecs.instance-type =~ m5.*").Obj()
			ds, err := r.Place(req, 1)
			assert.Empty(t, ds)
			require.ErrorIs(t, err, placement.ErrNoFit)
			var nf *placement.NoFitError
			require.ErrorAs(t, err, &nf)
			assert.Equal(t, []placement.ReasonCount{
				{Reason: placement.ReasonMemory, Instances: 3},
				{Reason: placement.ReasonMemberOf, Instances: 2},
				{Reason: placement.ReasonDraining, Instances: 1},
			}, nf.Reasons)
			assert.Equal(t, "placement: no instance fits task web:3: 3 instances: RESOURCE:MEMORY; 2 instances: MemberOf; 1 instance: DRAINING", err.Error())

			expl, err := r.Explain(req)
			require.NoError(t, err)
			assert.Equal(t, nf.Explanation, expl)
		})
	}
}

func TestNoFitMidBatchKeepsWhatWasPlaced(t *testing.T) {
	t.Parallel()
	insts := []cluster.ContainerInstance{testutil.Instance("i-1").CPU(1024).Obj()}
	for path, s := range schedulers(t) {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			r := s.NewRound(insts, 7)
			ds, err := r.Place(testutil.Task("web:1").CPU(300).Random().Obj(), 5)
			assert.Len(t, ds, 3)
			var nf *placement.NoFitError
			require.ErrorAs(t, err, &nf)
			assert.Equal(t, 5, nf.Requested)
			assert.Equal(t, 3, nf.Placed)
			assert.True(t, nf.Random)
			assert.Equal(t, "placement: no instance fits task web:1: 1 instance: RESOURCE:CPU (placed 3 of 5, random seed 7)", err.Error())
			assert.Equal(t, 3, r.Instance(0).RunningTasksCount())
		})
	}
}

func TestExplain(t *testing.T) {
	t.Parallel()
	s, err := placement.New()
	require.NoError(t, err)
	insts := []cluster.ContainerInstance{
		testutil.Instance("a").NetworkSlots(1).Obj(),
		testutil.Instance("b").NetworkSlots(1).CPU(10).Obj(),
		testutil.Instance("c").NetworkSlots(1).Disconnected().Obj(),
		testutil.Instance("d").NetworkSlots(1).Provider("spot").Obj(),
		testutil.Instance("e").NetworkSlots(1).Tasks("service:web", 1).Obj(),
		testutil.Instance("f").NetworkSlots(1).UsedPorts(cluster.TCPPort(80)).Obj(),
		testutil.Instance("g").NetworkSlots(1).Status(cluster.StatusInactive).Obj(),
		testutil.Instance("h").UsedPorts(cluster.TCPPort(80)).Tasks("service:web", 1).Obj(),
	}
	r := s.NewRound(insts, 1)
	expl, err := r.Explain(testutil.Task("web:1").Service("web").Port(80).DistinctInstance().AWSVPC().Obj())
	require.NoError(t, err)
	assert.Equal(t, 2, expl.Fit)
	assert.Equal(t, "1 instance: AGENT; 1 instance: DistinctInstance; 1 instance: INACTIVE; 1 instance: RESOURCE:CPU; "+
		"1 instance: RESOURCE:ENI; 1 instance: RESOURCE:PORTS; 2 instances fit",
		expl.String(), "ENI is checked before ports and distinctInstance")

	expl, err = r.Explain(testutil.Task("web:1").Provider("on-demand").Obj())
	require.NoError(t, err)
	assert.Equal(t, []placement.ReasonCount{
		{Reason: placement.ReasonCapacityProvider, Instances: 6},
		{Reason: placement.ReasonAgent, Instances: 1},
		{Reason: placement.ReasonInactive, Instances: 1},
	}, expl.Reasons)

	empty := s.NewRound(nil, 1)
	_, err = empty.Place(testutil.Task("web:1").Obj(), 1)
	assert.EqualError(t, err, "placement: no instance fits task web:1: no container instances")
}

func TestInvalidRequests(t *testing.T) {
	t.Parallel()
	six := testutil.Task("web:1")
	for range 6 {
		six.Random()
	}
	tests := []struct {
		name  string
		req   *placement.Request
		count int
		field string
	}{
		{name: "six strategies", req: six.Obj(), count: 1, field: "placementStrategy"},
		{name: "binpack on gpu", req: testutil.Task("web:1").Binpack("gpu").Obj(), count: 1, field: "placementStrategy[0].field"},
		{name: "spread with no field", req: testutil.Task("web:1").Spread("").Obj(), count: 1, field: "placementStrategy[0].field"},
		{name: "spread on attribute: alone", req: testutil.Task("web:1").Spread("attribute:").Obj(), count: 1, field: "placementStrategy[0].field"},
		{name: "random with a field", req: &placement.Request{Strategies: []placement.StrategySpec{{Type: placement.StrategyRandom, Field: "cpu"}}}, count: 1, field: "placementStrategy[0].field"},
		{name: "unknown strategy", req: &placement.Request{Strategies: []placement.StrategySpec{{Type: "pack"}}}, count: 1, field: "placementStrategy[0].type"},
		{name: "unknown constraint", req: &placement.Request{Constraints: []placement.Constraint{{Type: "near"}}}, count: 1, field: "placementConstraints[0].type"},
		{name: "distinctInstance with an expression", req: &placement.Request{Constraints: []placement.Constraint{{Type: placement.ConstraintDistinctInstance, Expression: "x"}}}, count: 1, field: "placementConstraints[0].expression"},
		{name: "memberOf without expression", req: testutil.Task("web:1").MemberOf("").Obj(), count: 1, field: "placementConstraints[0].expression"},
		{name: "memberOf that does not parse", req: testutil.Task("web:1").DistinctInstance().MemberOf("attribute:x ==").Obj(), count: 1, field: "placementConstraints[1].expression"},
		{name: "negative cpu", req: testutil.Task("web:1").CPU(-1).Obj(), count: 1, field: "cpu"},
		{name: "negative memory", req: testutil.Task("web:1").Memory(-1).Obj(), count: 1, field: "memory"},
		{name: "bad protocol", req: &placement.Request{Ports: []cluster.Port{{Protocol: "sctp"}}}, count: 1, field: "ports[0].protocol"},
		{name: "duplicate port", req: testutil.Task("web:1").Port(80).Port(80).Obj(), count: 1, field: "ports[1]"},
		{name: "negative count", req: testutil.Task("web:1").Obj(), count: -1, field: "count"},
		{name: "provider and strategy", req: testutil.Task("web:1").Provider("a").ProviderStrategy("a", 0, 1).Obj(), count: 1, field: "capacityProvider"},
		{name: "bad provider strategy", req: testutil.Task("web:1").ProviderStrategy("a", 0, 0).Obj(), count: 1, field: "capacityProviderStrategy"},
	}
	s, err := placement.New()
	require.NoError(t, err)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := s.NewRound([]cluster.ContainerInstance{testutil.Instance("i-1").Obj()}, 1)
			ds, err := r.Place(tt.req, tt.count)
			assert.Empty(t, ds)
			require.ErrorIs(t, err, placement.ErrInvalid)
			var fe *errdefs.FieldError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, tt.field, fe.Path)
			assert.Equal(t, 0, r.Instance(0).RunningTasksCount(), "an invalid request places nothing")
		})
	}
}

func TestMemberOfSyntaxErrorIsReachable(t *testing.T) {
	t.Parallel()
	s, err := placement.New()
	require.NoError(t, err)
	r := s.NewRound(nil, 1)
	_, err = r.Place(testutil.Task("web:1").MemberOf("attribute:ecs.instance-type ~= m5").Obj(), 1)
	var syntax *query.SyntaxError
	require.ErrorAs(t, err, &syntax)
	assert.ErrorIs(t, err, query.ErrInvalid)
	assert.ErrorIs(t, err, placement.ErrInvalid)
}

func TestRandomIsSeeded(t *testing.T) {
	t.Parallel()
	var insts []cluster.ContainerInstance
	for _, id := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		insts = append(insts, testutil.Instance(id).AZ(id).Obj())
	}
	for path, s := range schedulers(t) {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			run := func(seed uint64) []placement.Decision {
				ds, err := s.NewRound(insts, seed).Place(testutil.Task("web:1").CPU(1).Memory(1).Random().Obj(), 20)
				require.NoError(t, err)
				return ds
			}
			first := run(3)
			assert.Equal(t, first, run(3), "the same seed gives the same decisions")
			assert.NotEqual(t, instancesOf(first), instancesOf(run(4)), "another seed gives other decisions")
			for _, d := range first {
				assert.True(t, d.Random)
				assert.Equal(t, uint64(3), d.Seed)
			}
			seen := map[string]bool{}
			for _, d := range first {
				seen[d.Instance] = true
			}
			assert.Greater(t, len(seen), 3, "20 random draws over 8 instances hit more than 3")
		})
	}
}

func TestRandomAfterSpreadKeepsBalance(t *testing.T) {
	t.Parallel()
	var insts []cluster.ContainerInstance
	for i, az := range []string{"a", "a", "a", "b", "c", "c"} {
		insts = append(insts, testutil.Instance(string(rune('0'+i))+az).AZ(az).Obj())
	}
	for path, s := range schedulers(t) {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			ds, err := s.NewRound(insts, 9).Place(testutil.Task("web:1").CPU(1).Memory(1).SpreadAZ().Random().Binpack("memory").Obj(), 30)
			require.NoError(t, err)
			perAZ := map[string]int{}
			for _, d := range ds {
				perAZ[d.Instance[1:]]++
			}
			assert.Equal(t, map[string]int{"a": 10, "b": 10, "c": 10}, perAZ)
		})
	}
}

func TestDecisionsApplyToInstances(t *testing.T) {
	t.Parallel()
	insts := []cluster.ContainerInstance{
		testutil.Instance("i-1").CPU(1024).Memory(2048).NetworkSlots(2).ReservedPorts(cluster.TCPPort(22)).Obj(),
	}
	s, err := placement.New()
	require.NoError(t, err)
	ds, err := s.NewRound(insts, 1).Place(testutil.Task("web:1").Service("web").CPU(256).Memory(512).AWSVPC().DynamicPort().UDPPort(0).Obj(), 2)
	require.NoError(t, err)
	ci := insts[0].Clone()
	for _, d := range ds {
		require.NoError(t, ci.AddTask(d.Group, d.Resources))
	}
	assert.Equal(t, map[string]int{"service:web": 2}, ci.TaskGroups)
	assert.Equal(t, 512, ci.Remaining.CPU)
	assert.Equal(t, 0, ci.Remaining.NetworkSlots)
	assert.Equal(t, []cluster.Port{cluster.TCPPort(22), cluster.TCPPort(49153), cluster.UDPPort(49153), cluster.TCPPort(49154), cluster.UDPPort(49154)},
		ci.Remaining.Ports)
	assert.True(t, errors.Is(ci.AddTask("service:web", ds[0].Resources), cluster.ErrInsufficientResources))
}

// TestManySpreadValues spreads on five attributes with so many values that
// their combinations do not fit in 64 bits; the index must still agree with
// the general path.
func TestManySpreadValues(t *testing.T) {
	t.Parallel()
	const n = 8200 // 8200^5 > 2^64
	instances := make([]cluster.ContainerInstance, n)
	for i := range instances {
		b := testutil.Instance(fmt.Sprintf("i-%05d", i)).Memory(1024 + i%7*512)
		for a, p := range []int{1, 3, 7, 9, 11} { // prime to n: n values each
			b.Attr(fmt.Sprintf("a%d", a), fmt.Sprintf("v%d", i*p%n))
		}
		instances[i] = b.Obj()
	}
	req := testutil.Task("web:1").Memory(512)
	for a := range 5 {
		req.Spread(fmt.Sprintf("attribute:a%d", a))
	}
	var results [][]placement.Decision
	for _, path := range []string{"index", "scan"} {
		s := schedulers(t)[path]
		ds, err := s.NewRound(instances, 1).Place(req.Obj(), 40)
		require.NoError(t, err)
		results = append(results, ds)
	}
	assert.Equal(t, results[0], results[1])
}

func TestInstanceInfo(t *testing.T) {
	t.Parallel()
	at := testutil.RegisteredAt.Add(time.Hour)
	s, err := placement.New()
	require.NoError(t, err)
	r := s.NewRound([]cluster.ContainerInstance{
		testutil.Instance("i-1").CPU(1024).Memory(2048).NetworkSlots(2).AZ("a").Provider("spot").
			AgentVersion("1.2.3").RegisteredAt(at).Draining().
			UsedPorts(cluster.TCPPort(80)).Tasks("service:web", 2).Obj(),
	}, 99)
	assert.Equal(t, uint64(99), r.Seed())
	assert.NotNil(t, r.Rand())
	require.Equal(t, 1, r.Len())
	inf := r.Instance(0)
	assert.Equal(t, "i-1", inf.InstanceID())
	assert.Equal(t, "i-1", inf.Instance().ID)
	v, ok := inf.Attribute(cluster.AttributeAvailabilityZone)
	assert.True(t, ok)
	assert.Equal(t, "a", v)
	assert.Equal(t, cluster.StatusDraining, inf.Status())
	assert.Equal(t, "spot", inf.CapacityProvider())
	assert.Equal(t, at, inf.RegisteredAt())
	assert.True(t, inf.AgentConnected())
	assert.Equal(t, "1.2.3", inf.AgentVersion())
	assert.Equal(t, 1024, inf.RemainingCPU())
	assert.Equal(t, 2048, inf.RemainingMemory())
	assert.Equal(t, 2, inf.RemainingNetworkSlots())
	assert.True(t, inf.PortInUse(cluster.TCPPort(80)))
	assert.False(t, inf.PortInUse(cluster.UDPPort(80)))
	assert.Equal(t, 2, inf.TaskGroupCount("service:web"))
	assert.Equal(t, 0, inf.TaskGroupCount("service:nope"))
	assert.Equal(t, 2, inf.RunningTasksCount())
	assert.True(t, inf.HasTaskGroup(func(g string) bool { return g == "service:web" }))
	assert.False(t, inf.HasTaskGroup(func(g string) bool { return g == "service:db" }))
}

func TestRefusedInstancesNeverTakeTheTask(t *testing.T) {
	t.Parallel()
	for path, s := range schedulers(t) {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			insts := []cluster.ContainerInstance{testutil.Instance("i-1").Obj(), testutil.Instance("i-2").Obj()}
			req := testutil.Task("web:1").CPU(0).Memory(0).Obj()
			refused := map[string]bool{"i-1": true}
			req.Refuse = func(ci *cluster.ContainerInstance) placement.Reason {
				if refused[ci.ID] {
					return placement.ReasonTaskPolicy
				}
				return ""
			}
			ds, err := s.NewRound(insts, 1).Place(req, 3)
			require.NoError(t, err)
			assert.Equal(t, []string{"i-2", "i-2", "i-2"}, instancesOf(ds))

			refused["i-2"] = true
			_, err = s.NewRound(insts, 1).Place(req, 1)
			var noFit *placement.NoFitError
			require.ErrorAs(t, err, &noFit)
			require.Len(t, noFit.Reasons, 1)
			assert.Equal(t, placement.ReasonTaskPolicy, noFit.Reasons[0].Reason)
		})
	}
}
