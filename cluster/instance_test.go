package cluster_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/errdefs"
	"github.com/stevedore-io/stevedore/internal/testutil"
)

func TestReserveFailsAtomicallyNamingTheResource(t *testing.T) {
	t.Parallel()
	base := func() cluster.ContainerInstance {
		return testutil.Instance("i-1").CPU(1024).Memory(2048).NetworkSlots(1).
			ReservedPorts(cluster.TCPPort(22)).UsedPorts(cluster.UDPPort(53)).Obj()
	}
	tests := []struct {
		name     string
		reserve  cluster.Resources
		resource cluster.ResourceName
		port     cluster.Port
	}{
		{name: "cpu", reserve: cluster.Resources{CPU: 1025}, resource: cluster.ResourceCPU},
		{name: "memory", reserve: cluster.Resources{CPU: 1, Memory: 2049}, resource: cluster.ResourceMemory},
		{name: "network slots", reserve: cluster.Resources{NetworkSlots: 2}, resource: cluster.ResourceNetworkSlots},
		{name: "reserved port", reserve: cluster.Resources{CPU: 10, Ports: []cluster.Port{cluster.TCPPort(80), cluster.TCPPort(22)}},
			resource: cluster.ResourcePorts, port: cluster.TCPPort(22)},
		{name: "port in use", reserve: cluster.Resources{Ports: []cluster.Port{cluster.UDPPort(53)}},
			resource: cluster.ResourcePorts, port: cluster.UDPPort(53)},
		{name: "cpu is checked before memory", reserve: cluster.Resources{CPU: 5000, Memory: 5000}, resource: cluster.ResourceCPU},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ci := base()
			before := ci.Clone()
			err := ci.Reserve(tt.reserve)
			require.ErrorIs(t, err, cluster.ErrInsufficientResources)
			var short *cluster.InsufficientResourcesError
			require.ErrorAs(t, err, &short)
			assert.Equal(t, tt.resource, short.Resource)
			assert.Equal(t, "i-1", short.Instance)
			assert.Equal(t, tt.port, short.Port)
			assert.Equal(t, before, ci, "a failed Reserve must change nothing")
		})
	}
}

func TestReserveThenReleaseRestores(t *testing.T) {
	t.Parallel()
	ci := testutil.Instance("i-1").CPU(1024).Memory(2048).NetworkSlots(2).ReservedPorts(cluster.TCPPort(22)).Obj()
	before := ci.Clone()
	r := cluster.Resources{CPU: 512, Memory: 1024, NetworkSlots: 1, Ports: []cluster.Port{cluster.TCPPort(80), cluster.UDPPort(80)}}
	require.NoError(t, ci.Reserve(r))
	assert.Equal(t, 512, ci.Remaining.CPU)
	assert.Equal(t, 1024, ci.Remaining.Memory)
	assert.Equal(t, 1, ci.Remaining.NetworkSlots)
	assert.True(t, ci.PortInUse(cluster.UDPPort(80)))
	assert.False(t, ci.PortInUse(cluster.UDPPort(22)), "tcp and udp are separate spaces")
	require.NoError(t, ci.Release(r))
	assert.Equal(t, before, ci)
}

func TestReleaseRejectsWhatWasNotReserved(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		release cluster.Resources
	}{
		{name: "cpu beyond registered", release: cluster.Resources{CPU: 1}},
		{name: "memory beyond registered", release: cluster.Resources{Memory: 1}},
		{name: "network slot beyond registered", release: cluster.Resources{NetworkSlots: 1}},
		{name: "port not in use", release: cluster.Resources{Ports: []cluster.Port{cluster.TCPPort(80)}}},
		{name: "port reserved at registration", release: cluster.Resources{Ports: []cluster.Port{cluster.TCPPort(22)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ci := testutil.Instance("i-1").CPU(1024).Memory(2048).NetworkSlots(1).ReservedPorts(cluster.TCPPort(22)).Obj()
			before := ci.Clone()
			require.ErrorIs(t, ci.Release(tt.release), cluster.ErrNotReserved)
			assert.Equal(t, before, ci)
		})
	}
}

func TestInvalidReservations(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		r     cluster.Resources
		field string
	}{
		{name: "negative cpu", r: cluster.Resources{CPU: -1}, field: "reserve.cpu"},
		{name: "negative memory", r: cluster.Resources{Memory: -1}, field: "reserve.memory"},
		{name: "negative slots", r: cluster.Resources{NetworkSlots: -1}, field: "reserve.networkSlots"},
		{name: "port zero", r: cluster.Resources{Ports: []cluster.Port{cluster.TCPPort(0)}}, field: "reserve.ports[0].number"},
		{name: "unknown protocol", r: cluster.Resources{Ports: []cluster.Port{{Protocol: "sctp", Number: 1}}}, field: "reserve.ports[0].protocol"},
		{name: "duplicate port", r: cluster.Resources{Ports: []cluster.Port{cluster.TCPPort(80), cluster.TCPPort(80)}}, field: "reserve.ports[1]"},
		{name: "duplicate among many ports", r: cluster.Resources{Ports: []cluster.Port{
			cluster.TCPPort(1), cluster.TCPPort(2), cluster.TCPPort(3), cluster.TCPPort(4), cluster.TCPPort(5),
			cluster.TCPPort(6), cluster.TCPPort(7), cluster.TCPPort(8), cluster.UDPPort(8), cluster.TCPPort(3),
		}}, field: "reserve.ports[9]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ci := testutil.Instance("i-1").Obj()
			err := ci.Reserve(tt.r)
			require.ErrorIs(t, err, cluster.ErrInvalid)
			var fe *errdefs.FieldError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, tt.field, fe.Path)
		})
	}
}

func TestAddAndRemoveTask(t *testing.T) {
	t.Parallel()
	ci := testutil.Instance("i-1").CPU(1024).Memory(1024).Obj()
	r := cluster.Resources{CPU: 256, Memory: 256}
	require.NoError(t, ci.AddTask("service:web", r))
	require.NoError(t, ci.AddTask("service:web", r))
	require.NoError(t, ci.AddTask("family:batch", r))
	assert.Equal(t, map[string]int{"service:web": 2, "family:batch": 1}, ci.TaskGroups)
	assert.Equal(t, 3, ci.DesiredRunningTasks())

	require.NoError(t, ci.RemoveTask("family:batch", r))
	assert.Equal(t, map[string]int{"service:web": 2}, ci.TaskGroups)
	require.ErrorIs(t, ci.RemoveTask("family:batch", r), cluster.ErrNotReserved)
	require.ErrorIs(t, ci.AddTask("", r), cluster.ErrInvalid)

	// A failed AddTask counts nothing.
	require.ErrorIs(t, ci.AddTask("service:web", cluster.Resources{CPU: 4096}), cluster.ErrInsufficientResources)
	assert.Equal(t, map[string]int{"service:web": 2}, ci.TaskGroups)
}

func TestCloneSharesNothing(t *testing.T) {
	t.Parallel()
	ci := testutil.Instance("i-1").AZ("a").ReservedPorts(cluster.TCPPort(22)).Tasks("service:web", 1).Obj()
	c := ci.Clone()
	c.Attributes["x"] = "y"
	c.TaskGroups["service:web"] = 5
	c.Registered.Ports[0] = cluster.TCPPort(23)
	c.Remaining.Ports[0] = cluster.TCPPort(24)
	assert.NotContains(t, ci.Attributes, "x")
	assert.Equal(t, 1, ci.TaskGroups["service:web"])
	assert.Equal(t, cluster.TCPPort(22), ci.Registered.Ports[0])
	assert.Equal(t, cluster.TCPPort(22), ci.Remaining.Ports[0])

	ci.EngineOutage = &cluster.EngineOutage{Reason: "connection refused"}
	c = ci.Clone()
	c.EngineOutage.Reason = "other"
	assert.Equal(t, "connection refused", ci.EngineOutage.Reason)

	ci.AgentLost = &cluster.AgentLost{Reason: "no heartbeat"}
	c = ci.Clone()
	c.AgentLost.Reason = "other"
	assert.Equal(t, "no heartbeat", ci.AgentLost.Reason)

	cl := cluster.Cluster{Name: "prod", Status: cluster.ClusterActive, CapacityProviders: []string{"spot"},
		DefaultCapacityProviderStrategy: cluster.CapacityProviderStrategy{{CapacityProvider: "spot", Weight: 1}}}
	cc := cl.Clone()
	cc.CapacityProviders[0] = "other"
	cc.DefaultCapacityProviderStrategy[0].Weight = 7
	assert.Equal(t, "spot", cl.CapacityProviders[0])
	assert.Equal(t, 1, cl.DefaultCapacityProviderStrategy[0].Weight)
}

func TestInstanceValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(*cluster.ContainerInstance)
		field  string
	}{
		{name: "valid", mutate: func(*cluster.ContainerInstance) {}},
		{name: "no id", mutate: func(ci *cluster.ContainerInstance) { ci.ID = "" }, field: "id"},
		{name: "unknown status", mutate: func(ci *cluster.ContainerInstance) { ci.Status = "GONE" }, field: "status"},
		{name: "bad attribute name", mutate: func(ci *cluster.ContainerInstance) { ci.Attributes["a b"] = "x" }, field: `attributes["a b"]`},
		{name: "bad attribute value", mutate: func(ci *cluster.ContainerInstance) { ci.Attributes["a"] = "x!" }, field: `attributes["a"]`},
		{name: "negative registered memory", mutate: func(ci *cluster.ContainerInstance) { ci.Registered.Memory = -1 }, field: "registeredResources.memory"},
		{name: "remaining over registered", mutate: func(ci *cluster.ContainerInstance) { ci.Remaining.CPU++ }, field: "remainingResources.cpu"},
		{name: "reserved port not in use", mutate: func(ci *cluster.ContainerInstance) { ci.Remaining.Ports = nil }, field: "registeredResources.ports[0]"},
		{name: "zero task group count", mutate: func(ci *cluster.ContainerInstance) { ci.TaskGroups["service:x"] = 0 }, field: `taskGroups["service:x"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ci := testutil.Instance("i-1").AZ("eu-west-1a").Attr("ecs.ami-id", "ami-1 @x:y/z").ReservedPorts(cluster.TCPPort(22)).Obj()
			tt.mutate(&ci)
			err := ci.Validate()
			if tt.field == "" {
				require.NoError(t, err)
				return
			}
			var fe *errdefs.FieldError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, tt.field, fe.Path)
			assert.ErrorIs(t, err, cluster.ErrInvalid)
		})
	}
}

func TestNewContainerInstance(t *testing.T) {
	t.Parallel()
	ci, err := cluster.NewContainerInstance("i-1", cluster.Resources{CPU: 1024, Memory: 512, Ports: []cluster.Port{cluster.TCPPort(22)}}, testutil.RegisteredAt)
	require.NoError(t, err)
	assert.Equal(t, cluster.StatusActive, ci.Status)
	assert.True(t, ci.AgentConnected)
	assert.Equal(t, ci.Registered, ci.Remaining)
	ci.Remaining.Ports[0] = cluster.TCPPort(1)
	assert.Equal(t, cluster.TCPPort(22), ci.Registered.Ports[0], "registered and remaining share no slice")

	_, err = cluster.NewContainerInstance("", cluster.Resources{}, testutil.RegisteredAt)
	require.ErrorIs(t, err, cluster.ErrInvalid)
}

// TestReserveNeverOvercommits drives random Reserve/Release sequences and
// checks that remaining resources stay within [0, registered] and that the
// ports in use are exactly the reserved ones plus those of live
// reservations.
func TestReserveNeverOvercommits(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		ci := testutil.Instance("i-1").
			CPU(rapid.IntRange(0, 4096).Draw(t, "cpu")).
			Memory(rapid.IntRange(0, 8192).Draw(t, "memory")).
			NetworkSlots(rapid.IntRange(0, 3).Draw(t, "slots")).
			ReservedPorts(cluster.TCPPort(22)).Obj()
		port := rapid.Custom(func(t *rapid.T) cluster.Port {
			return cluster.Port{
				Protocol: rapid.SampledFrom([]cluster.Protocol{cluster.TCP, cluster.UDP}).Draw(t, "protocol"),
				Number:   uint16(rapid.IntRange(20, 25).Draw(t, "number")),
			}
		})
		var held []cluster.Resources
		for range rapid.IntRange(1, 40).Draw(t, "steps") {
			if len(held) > 0 && rapid.Bool().Draw(t, "release") {
				i := rapid.IntRange(0, len(held)-1).Draw(t, "which")
				if err := ci.Release(held[i]); err != nil {
					t.Fatalf("releasing a live reservation: %v", err)
				}
				held = append(held[:i], held[i+1:]...)
			} else {
				r := cluster.Resources{
					CPU:          rapid.IntRange(0, 2048).Draw(t, "rcpu"),
					Memory:       rapid.IntRange(0, 4096).Draw(t, "rmem"),
					NetworkSlots: rapid.IntRange(0, 1).Draw(t, "rslot"),
				}
				if p := rapid.Ptr(port, true).Draw(t, "port"); p != nil {
					r.Ports = []cluster.Port{*p}
				}
				before := ci.Clone()
				if err := ci.Reserve(r); err == nil {
					held = append(held, r)
				} else if !errors.Is(err, cluster.ErrInsufficientResources) {
					t.Fatalf("unexpected error: %v", err)
				} else if !assert.ObjectsAreEqual(before, ci) {
					t.Fatalf("failed Reserve changed the instance")
				}
			}
			if err := ci.Validate(); err != nil {
				t.Fatalf("instance invalid: %v", err)
			}
			if ci.Remaining.CPU < 0 || ci.Remaining.Memory < 0 || ci.Remaining.NetworkSlots < 0 {
				t.Fatalf("overcommitted: %+v", ci.Remaining)
			}
			want := 1
			for _, h := range held {
				want += len(h.Ports)
			}
			if len(ci.Remaining.Ports) != want {
				t.Fatalf("%d ports in use, want %d", len(ci.Remaining.Ports), want)
			}
		}
	})
}

func TestValidateInstanceID(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"i-0123456789abcdef0", "host-1", "a", "i_1.2:3@x", strings.Repeat("x", cluster.MaxInstanceIDLength)} {
		assert.NoError(t, cluster.ValidateInstanceID(id), "%q", id)
	}
	for _, tc := range []struct{ id, reason string }{
		{"", "1-255 characters"},
		{strings.Repeat("x", cluster.MaxInstanceIDLength+1), "1-255 characters"},
		{".", "not a valid instance ID"},
		{"..", "not a valid instance ID"},
		{"../../etc", "path separator"},
		{"a/b", "path separator"},
		{`a\b`, "path separator"},
		{"a b", "visible ASCII"},
		{"a\x00b", "visible ASCII"},
		{"a\nb", "visible ASCII"},
		{"a\x7fb", "visible ASCII"},
		{"é", "visible ASCII"},
	} {
		t.Run(fmt.Sprintf("%q", tc.id), func(t *testing.T) {
			t.Parallel()
			err := cluster.ValidateInstanceID(tc.id)
			require.ErrorIs(t, err, cluster.ErrInvalid)
			var fe *errdefs.FieldError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, "id", fe.Path)
			assert.Contains(t, fe.Reason, tc.reason)
			assert.LessOrEqual(t, len(err.Error()), 200, "a long ID is not echoed whole")
		})
	}
	// Every instance is held to it.
	_, err := cluster.NewContainerInstance("a/b", cluster.Resources{CPU: 1}, time.Now())
	require.ErrorIs(t, err, cluster.ErrInvalid)
}
