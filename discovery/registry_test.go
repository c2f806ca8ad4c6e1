package discovery

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/network"
	"github.com/stevedore-io/stevedore/task"
)

// inst is a healthy instance of service with an address and port.
func inst(service, id, addr string, port uint16) Instance {
	return Instance{Service: service, ID: id, Addr: netip.MustParseAddr(addr), Port: port, Healthy: true}
}

func ids(insts []Instance) []string {
	out := make([]string, len(insts))
	for i, in := range insts {
		out[i] = in.ID
	}
	return out
}

func TestRegisterValidation(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", MaxLabelLen+1)
	tests := []struct {
		name    string
		mod     func(*Instance)
		wantErr string // empty: valid
	}{
		{"valid", func(*Instance) {}, ""},
		{"namespace", func(i *Instance) { i.Namespace = "prod" }, ""},
		{"underscore and caps", func(i *Instance) { i.Service = "My_Web-1" }, ""},
		{"63 characters", func(i *Instance) { i.ID = long[:MaxLabelLen] }, ""},
		{"ipv6", func(i *Instance) { i.Addr = netip.MustParseAddr("fd00::5") }, ""},
		{"empty service", func(i *Instance) { i.Service = "" }, "service: empty"},
		{"empty id", func(i *Instance) { i.ID = "" }, "id: empty"},
		{"leading underscore", func(i *Instance) { i.Service = "_web" }, "starts with '_'"},
		{"leading hyphen", func(i *Instance) { i.ID = "-a" }, "starts with '-'"},
		{"dot", func(i *Instance) { i.Service = "web.api" }, "has '.'"},
		{"space in namespace", func(i *Instance) { i.Namespace = "pr od" }, "namespace"},
		{"too long", func(i *Instance) { i.Service = long }, "longer than 63"},
		{"no address", func(i *Instance) { i.Addr = netip.Addr{} }, "not a usable address"},
		{"unspecified", func(i *Instance) { i.Addr = netip.IPv4Unspecified() }, "not a usable address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := inst("web", "t1", "10.0.0.1", 80)
			tt.mod(&in)
			err := NewRegistry().Register(in)
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrInvalid)
			assert.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestRegistryLifecycle(t *testing.T) {
	t.Parallel()
	reg := NewRegistry()
	require.NoError(t, reg.Register(inst("web", "b", "10.0.0.2", 80)))
	require.NoError(t, reg.Register(inst("web", "a", "10.0.0.1", 80)))
	require.NoError(t, reg.Register(inst("api", "c", "10.0.0.3", 0)))
	assert.Equal(t, []string{"a", "b"}, ids(reg.Lookup("web")), "sorted by ID")
	assert.Equal(t, []string{"a", "b"}, ids(reg.Lookup("WEB")), "case-insensitive")
	assert.Nil(t, reg.Lookup("nope"))

	require.NoError(t, reg.SetHealth("web", "a", false))
	assert.Equal(t, []string{"b"}, ids(reg.Lookup("web")), "unhealthy left out")
	assert.Len(t, reg.Instances(), 3, "unhealthy still registered")
	require.ErrorIs(t, reg.SetHealth("web", "zz", true), ErrNotFound)
	require.ErrorIs(t, reg.SetHealth("nope", "a", true), ErrNotFound)

	v := reg.Version()
	require.NoError(t, reg.SetHealth("web", "b", true), "no change")
	assert.Equal(t, v, reg.Version(), "a no-op does not bump the version")

	assert.True(t, reg.Deregister("web", "B"))
	assert.False(t, reg.Deregister("web", "b"), "idempotent")
	assert.Greater(t, reg.Version(), v)
	assert.Nil(t, reg.Lookup("web"))

	// Re-registering replaces and may move the instance to a namespace.
	moved := inst("web", "a", "10.0.0.9", 81)
	moved.Namespace = "prod"
	require.NoError(t, reg.Register(moved))
	got := reg.LookupIn("prod", "web")
	require.Len(t, got, 1)
	assert.Equal(t, netip.MustParseAddr("10.0.0.9"), got[0].Addr)
	assert.Nil(t, reg.LookupIn("", "web"))
	assert.Len(t, reg.Lookup("web"), 1, "Lookup spans namespaces")
	assert.Equal(t, 1, reg.namespaces["prod"])
	assert.Zero(t, reg.namespaces[""]-1, "api only at the apex")

	assert.Equal(t, 2, reg.DeregisterID("a")+reg.DeregisterID("c"))
	assert.Zero(t, reg.DeregisterID("a"))
	assert.Empty(t, reg.Instances())
	assert.Empty(t, reg.namespaces, "namespace counts drop to nothing")
	assert.Empty(t, reg.services)
}

func TestRegistryCopies(t *testing.T) {
	t.Parallel()
	reg := NewRegistry()
	in := inst("web", "a", "::ffff:10.0.0.1", 80)
	in.Attributes = map[string]string{"k": "v"}
	require.NoError(t, reg.Register(in))
	in.Attributes["k"] = "changed"

	got := reg.Lookup("web")
	require.Len(t, got, 1)
	assert.Equal(t, "v", got[0].Attributes["k"], "Register copies attributes")
	assert.True(t, got[0].Addr.Is4(), "4in6 stored as IPv4")
	got[0].Attributes["k"] = "mine"
	assert.Equal(t, "v", reg.Lookup("web")[0].Attributes["k"], "Lookup returns copies")
	assert.Equal(t, "v", reg.Instances()[0].Attributes["k"])
}

func TestRegistryReplace(t *testing.T) {
	t.Parallel()
	reg := NewRegistry()
	require.NoError(t, reg.Register(inst("old", "x", "10.0.0.1", 0)))
	bad := inst("web", "", "10.0.0.2", 0)
	err := reg.Replace([]Instance{inst("web", "a", "10.0.0.3", 0), bad})
	require.ErrorIs(t, err, ErrInvalid)
	assert.Len(t, reg.Lookup("old"), 1, "nothing changes on error")

	require.NoError(t, reg.Replace([]Instance{inst("web", "a", "10.0.0.3", 0), inst("web", "b", "10.0.0.4", 0)}))
	assert.Nil(t, reg.Lookup("old"))
	assert.Equal(t, []string{"a", "b"}, ids(reg.Lookup("web")))
	require.NoError(t, reg.Replace(nil))
	assert.Empty(t, reg.Instances())
}

func TestResolveNames(t *testing.T) {
	t.Parallel()
	reg := NewRegistry()
	prod := inst("web", "p1", "10.0.1.1", 80)
	prod.Namespace = "prod"
	sick := inst("db", "d1", "10.0.2.1", 5432)
	sick.Healthy = false
	for _, in := range []Instance{inst("web", "a1", "10.0.0.1", 80), prod, sick} {
		require.NoError(t, reg.Register(in))
	}
	tests := []struct {
		name    string
		kind    nameKind
		scoped  bool
		healthy []string
	}{
		{"", nameApex, false, nil},
		{"web", nameService, false, []string{"a1", "p1"}},
		{"web.prod", nameService, true, []string{"p1"}},
		{"_web._tcp", nameSRV, false, []string{"a1", "p1"}},
		{"_web._udp.prod", nameSRV, true, []string{"p1"}},
		{"a1.web", nameInstance, false, []string{"a1"}},
		{"p1.web", nameInstance, false, []string{"p1"}},
		{"p1.web.prod", nameInstance, true, []string{"p1"}},
		{"a1.web.prod", nameMissing, false, nil},
		{"db", nameService, false, nil},
		{"d1.db", nameInstance, false, nil},
		{"prod", nameEmpty, false, nil},
		{"_tcp", nameEmpty, false, nil},
		{"_tcp.prod", nameEmpty, false, nil},
		{"_tcp.nope", nameMissing, false, nil},
		{"web.nope", nameMissing, false, nil},
		{"_nope._tcp", nameMissing, false, nil},
		{"_web._tcp.nope", nameMissing, false, nil},
		{"_web._sctp", nameMissing, false, nil},
		{"x.p1.web.prod", nameMissing, false, nil},
		{"nope", nameMissing, false, nil},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.name), func(t *testing.T) {
			t.Parallel()
			var labels []string
			if tt.name != "" {
				labels = strings.Split(tt.name, ".")
			}
			res := reg.resolve(labels)
			assert.Equal(t, tt.kind, res.kind)
			assert.Equal(t, tt.scoped, res.scoped)
			if tt.healthy == nil {
				assert.Empty(t, res.healthy)
			} else {
				assert.Equal(t, tt.healthy, ids(res.healthy))
			}
		})
	}
}

// A namespace named like a service with a task: the service reading wins.
func TestResolveAmbiguous(t *testing.T) {
	t.Parallel()
	reg := NewRegistry()
	svc := inst("web", "x", "10.0.0.1", 0)
	svc.Namespace = "api"
	require.NoError(t, reg.Register(svc))                               // web.api: service web in namespace api
	require.NoError(t, reg.Register(inst("api", "web", "10.0.0.2", 0))) // web.api: instance web of api
	res := reg.resolve([]string{"web", "api"})
	assert.Equal(t, nameService, res.kind)
	assert.Equal(t, []string{"x"}, ids(res.healthy))
	reg.Deregister("web", "x")
	res = reg.resolve([]string{"web", "api"})
	assert.Equal(t, nameInstance, res.kind)
	assert.Equal(t, []string{"web"}, ids(res.healthy))
}

func TestRegistryConcurrent(t *testing.T) {
	t.Parallel()
	reg := NewRegistry()
	const writers, rounds = 4, 200
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range rounds {
				id := fmt.Sprintf("w%d-%d", w, i%10)
				_ = reg.Register(inst("web", id, fmt.Sprintf("10.0.%d.%d", w, i%10+1), 80))
				_ = reg.SetHealth("web", id, i%3 != 0)
				if i%4 == 0 {
					reg.Deregister("web", id)
				}
			}
		})
		wg.Go(func() {
			for range rounds {
				for _, in := range reg.Lookup("web") {
					assert.True(t, in.Healthy)
				}
				_ = reg.resolve([]string{"web"})
				_ = reg.Instances()
			}
		})
	}
	wg.Wait()
	for _, in := range reg.Instances() {
		assert.Equal(t, "web", in.Service)
	}
}

func TestRegisterUnchangedKeepsVersion(t *testing.T) {
	t.Parallel()
	reg := NewRegistry()
	in := inst("web", "a", "10.0.0.1", 80)
	in.Attributes = map[string]string{"k": "v"}
	require.NoError(t, reg.Register(in))
	v := reg.Version()
	require.NoError(t, reg.Register(in))
	assert.Equal(t, v, reg.Version(), "same instance: no change")
	in.Attributes = map[string]string{"k": "w"}
	require.NoError(t, reg.Register(in))
	assert.Equal(t, v+1, reg.Version(), "attributes count")
	in.Port = 81
	require.NoError(t, reg.Register(in))
	assert.Equal(t, v+2, reg.Version())
}

func TestSyncTask(t *testing.T) {
	t.Parallel()
	reg := NewRegistry()
	tk := &task.Task{
		TaskARN: "task/prod/abc", ClusterARN: "prod", Group: "service:web",
		LastStatus: task.Running, DesiredStatus: task.Running,
	}
	att := &network.Attachment{Mode: network.ModeAWSVPC, Address: netip.MustParsePrefix("10.88.0.5/16")}
	require.NoError(t, reg.SyncTask(tk, att, TaskOptions{}))
	assert.Equal(t, []string{"abc"}, ids(reg.Lookup("web")))
	require.NoError(t, reg.SyncTask(tk, att, TaskOptions{}), "idempotent")
	assert.Len(t, reg.Instances(), 1)

	tk.DesiredStatus = task.Stopped
	require.NoError(t, reg.SyncTask(tk, att, TaskOptions{}))
	assert.Empty(t, reg.Instances())

	standalone := &task.Task{TaskARN: "task/prod/x", Group: "family:web", LastStatus: task.Running, DesiredStatus: task.Running}
	require.NoError(t, reg.SyncTask(standalone, att, TaskOptions{}))
	assert.Empty(t, reg.Instances())
	require.NoError(t, reg.SyncTask(nil, nil, TaskOptions{}))
}

// Errors about a name quote at most a short prefix of it: a service name
// or namespace of a megabyte came back whole.
func TestErrorsQuoteABoundedPrefix(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 1<<19) + "!"
	check := func(t *testing.T, err error) {
		t.Helper()
		require.Error(t, err)
		msg := err.Error()
		assert.Less(t, len(msg), 2000, "the error echoes the whole name: %.200s", msg)
		assert.Contains(t, msg, "(1048577 bytes)")
		assert.True(t, utf8.ValidString(msg))
	}
	reg := NewRegistry()
	err := reg.Register(Instance{Service: long, ID: long, Namespace: long, Addr: netip.MustParseAddr("10.0.0.1")})
	require.ErrorIs(t, err, ErrInvalid)
	check(t, err)
	err = reg.SetHealth(long, "a", true)
	require.ErrorIs(t, err, ErrNotFound)
	check(t, err)
	_, err = NewServer(reg, Config{Namespace: long, Listen: long})
	require.ErrorIs(t, err, ErrInvalid)
	check(t, err)
	_, err = NewResolver(reg, long)
	check(t, err)
}
