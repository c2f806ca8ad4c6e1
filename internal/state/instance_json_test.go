package state_test

import (
	"encoding"
	"encoding/json"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/network"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/task"
)

var _ store.JSONAppender = (*state.Instance)(nil)

// TestInstanceJSON checks that Instance.AppendJSON writes what json.Marshal
// writes, but for the order of map keys: for an empty instance, a
// registered one, and one with every field set (a field added to the
// type, set here by fill, and not written by AppendJSON fails it).
func TestInstanceJSON(t *testing.T) {
	t.Parallel()
	registered, err := cluster.NewContainerInstance("i-1", cluster.Resources{CPU: 1024, Memory: 2048, NetworkSlots: 4},
		time.Date(2026, 12, 7, 10, 0, 0, 5, time.UTC))
	require.NoError(t, err)
	full := new(state.Instance)
	fill(reflect.ValueOf(full).Elem(), 0)
	tests := []struct {
		name string
		inst *state.Instance
	}{
		{"Empty", new(state.Instance)},
		{"Registered", &state.Instance{Meta: store.Meta{CreateRevision: 3, ModRevision: 9}, ContainerInstance: registered}},
		{"EveryFieldSet", full},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			want, err := json.Marshal(tt.inst)
			require.NoError(t, err)
			got, err := tt.inst.AppendJSON([]byte("x"))
			require.NoError(t, err)
			assert.Equal(t, "x", string(got[:1]), "appended to what was there")
			sameJSON(t, want, got[1:])
		})
	}
}

// TestInstanceJSONProperty compares AppendJSON with json.Marshal on
// instances with any strings, attributes and task groups.
func TestInstanceJSONProperty(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		str := rapid.String()
		inst := &state.Instance{ContainerInstance: cluster.ContainerInstance{
			ID: str.Draw(t, "id"), Cluster: str.Draw(t, "cluster"), StatusReason: str.Draw(t, "reason"),
			RegisteredAt:      time.Unix(rapid.Int64Range(0, 1<<34).Draw(t, "at"), rapid.Int64Range(0, 999_999_999).Draw(t, "ns")),
			Attributes:        rapid.MapOf(str, str).Draw(t, "attributes"),
			TaskGroups:        rapid.MapOf(str, rapid.Int()).Draw(t, "groups"),
			RunningTasksCount: rapid.Int().Draw(t, "running"),
		}}
		want, err := json.Marshal(inst)
		require.NoError(t, err)
		got, err := inst.AppendJSON(nil)
		require.NoError(t, err)
		sameJSON(t, want, got)
	})
}

// TestInstanceJSONRefusesWhatJSONRefuses: a time json.Marshal cannot
// write fails AppendJSON too.
func TestInstanceJSONRefusesWhatJSONRefuses(t *testing.T) {
	t.Parallel()
	inst := &state.Instance{ReclaimAt: time.Date(10_000, 1, 1, 0, 0, 0, 0, time.UTC)}
	_, err := json.Marshal(inst)
	require.Error(t, err)
	_, err = inst.AppendJSON(nil)
	require.Error(t, err)
}

// sameJSON checks that got is valid JSON with the same members and values
// as want, and decodes into the same Instance.
func sameJSON(t require.TestingT, want, got []byte) {
	require.True(t, json.Valid(got), "%s", got)
	var w, g any
	require.NoError(t, json.Unmarshal(want, &w))
	require.NoError(t, json.Unmarshal(got, &g))
	require.Equal(t, w, g)
	var wi, gi state.Instance
	require.NoError(t, json.Unmarshal(want, &wi))
	require.NoError(t, json.Unmarshal(got, &gi))
	require.Equal(t, wi, gi)
}

// fill sets every field v holds to a value that is not zero, with strings
// that encoding/json escapes.
func fill(v reflect.Value, depth int) {
	if depth > 6 {
		return
	}
	if v.Type() == reflect.TypeFor[time.Time]() {
		v.Set(reflect.ValueOf(time.Date(2026, 12, 7, 10, 0, 0, 7, time.FixedZone("x", 3600))))
		return
	}
	if v.Type() == reflect.TypeFor[json.RawMessage]() {
		v.SetBytes([]byte(`{"x":1}`))
		return
	}
	switch v.Kind() {
	case reflect.String:
		// A type that checks its text when marshalled gets the first
		// of these it accepts.
		for _, s := range []string{"a\"b<c>&\u2028\x01é", "bridge", ""} {
			v.SetString(s)
			m, ok := v.Interface().(encoding.TextMarshaler)
			if !ok {
				break
			}
			if _, err := m.MarshalText(); err == nil {
				break
			}
		}
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(7)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(7)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(0.5)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(p.Elem(), depth+1)
		v.Set(p)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fill(s.Index(0), depth+1)
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k, depth+1)
		fill(e, depth+1)
		m.SetMapIndex(k, e)
		k2 := reflect.New(v.Type().Key()).Elem()
		if k2.Kind() == reflect.String {
			k2.SetString("another")
			m.SetMapIndex(k2, e)
		}
		v.Set(m)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), depth+1)
			}
		}
	}
}

var _ store.JSONAppender = (*state.Task)(nil)

// TestTaskJSON checks that Task.AppendJSON writes what json.Marshal writes,
// but for the order of map keys: for a task as the launcher makes it, one
// with every field set (a field added to the type, set here by fill, and
// not written by AppendJSON fails it), and one without its embedded task.
func TestTaskJSON(t *testing.T) {
	t.Parallel()
	var realistic *state.Task
	for _, obj := range samples(t) {
		if tk, ok := obj.(*state.Task); ok {
			realistic = tk
		}
	}
	require.NotNil(t, realistic)
	full := new(state.Task)
	fill(reflect.ValueOf(full).Elem(), 0)
	require.NotNil(t, full.Task)
	tests := []struct {
		name string
		task *state.Task
	}{
		{"Realistic", realistic},
		{"EveryFieldSet", full},
		{"NoEmbeddedTask", &state.Task{ServiceName: "web", Meta: store.Meta{CreateRevision: 1, ModRevision: 2}}},
		{"Empty", &state.Task{Task: new(task.Task)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			want, err := json.Marshal(tt.task)
			require.NoError(t, err)
			got, err := tt.task.AppendJSON([]byte("x"))
			require.NoError(t, err)
			assert.Equal(t, "x", string(got[:1]), "appended to what was there")
			sameTaskJSON(t, want, got[1:])
		})
	}
}

// TestTaskJSONProperty compares Task.AppendJSON with json.Marshal on tasks
// with any strings, statuses, times and flags.
func TestTaskJSONProperty(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		str := rapid.String()
		at := func(label string) time.Time {
			if rapid.Bool().Draw(t, label+"-zero") {
				return time.Time{}
			}
			return time.Unix(rapid.Int64Range(0, 1<<34).Draw(t, label), rapid.Int64Range(0, 999_999_999).Draw(t, label+"-ns"))
		}
		tk := &state.Task{
			Meta: store.Meta{CreateRevision: rapid.Int64().Draw(t, "create"), ModRevision: rapid.Int64().Draw(t, "mod")},
			Task: &task.Task{
				TaskARN: str.Draw(t, "arn"), ClusterARN: str.Draw(t, "cluster"), Group: str.Draw(t, "group"),
				Version: rapid.Int64().Draw(t, "version"), LastStatus: task.Status(str.Draw(t, "last")),
				StoppedReason: str.Draw(t, "reason"), CPU: task.CPU(str.Draw(t, "cpu")),
				CreatedAt: at("created"), StartedAt: at("started"), StoppedAt: at("stopped"),
				SecurityGroups: rapid.SliceOf(str).Draw(t, "groups"),
				Containers: rapid.SliceOf(rapid.Custom(func(t *rapid.T) task.Container {
					c := task.Container{
						Name: str.Draw(t, "name"), Image: str.Draw(t, "image"), RuntimeID: str.Draw(t, "runtime"),
						LastStatus: task.ContainerStatus(str.Draw(t, "status")), Reason: str.Draw(t, "reason"),
						HealthStatus: task.HealthStatus(str.Draw(t, "health")), Essential: rapid.Bool().Draw(t, "essential"),
						NetworkBindings: rapid.SliceOf(rapid.Custom(func(t *rapid.T) task.NetworkBinding {
							return task.NetworkBinding{BindIP: str.Draw(t, "ip"), ContainerPort: rapid.Int().Draw(t, "port"),
								HostPort: rapid.Int().Draw(t, "host"), Protocol: task.Protocol(str.Draw(t, "protocol"))}
						})).Draw(t, "bindings"),
					}
					if rapid.Bool().Draw(t, "exited") {
						code := rapid.Int().Draw(t, "code")
						c.ExitCode = &code
					}
					return c
				})).Draw(t, "containers"),
			},
			Network: rapid.Ptr(rapid.Custom(func(t *rapid.T) network.Attachment {
				a := network.Attachment{
					TaskID: str.Draw(t, "task"), Mode: rapid.SampledFrom([]network.Mode{network.ModeAWSVPC, network.ModeBridge, network.ModeHost, network.ModeNone}).Draw(t, "mode"),
					NetNSPath: str.Draw(t, "netns"), MAC: str.Draw(t, "mac"), HostsPath: str.Draw(t, "hosts"),
					PortBindings: rapid.SliceOf(rapid.Custom(func(t *rapid.T) network.PortBinding {
						return network.PortBinding{ContainerPort: rapid.Uint16().Draw(t, "port"), HostPort: rapid.Uint16().Draw(t, "host"),
							Protocol: network.Protocol(str.Draw(t, "protocol"))}
					})).Draw(t, "bindings"),
				}
				if rapid.Bool().Draw(t, "addressed") {
					ip := netip.AddrFrom4([4]byte(rapid.SliceOfN(rapid.Byte(), 4, 4).Draw(t, "ip")))
					a.Address = netip.PrefixFrom(ip, rapid.IntRange(0, 32).Draw(t, "bits"))
					a.Gateway = ip.Next()
				}
				return a
			}), true).Draw(t, "network"),
			ServiceName: str.Draw(t, "service"), Released: rapid.Bool().Draw(t, "released"),
			TargetHealth: state.TargetHealth(rapid.IntRange(0, 2).Draw(t, "target")),
		}
		want, err := json.Marshal(tk)
		require.NoError(t, err)
		got, err := tk.AppendJSON(nil)
		require.NoError(t, err)
		sameTaskJSON(t, want, got)
	})
}

// sameTaskJSON checks that got is valid JSON with the same members and
// values as want, and decodes into the same Task.
func sameTaskJSON(t require.TestingT, want, got []byte) {
	require.True(t, json.Valid(got), "%s", got)
	var w, g any
	require.NoError(t, json.Unmarshal(want, &w))
	require.NoError(t, json.Unmarshal(got, &g))
	require.Equal(t, w, g)
	wt, gt := &state.Task{Task: new(task.Task)}, &state.Task{Task: new(task.Task)}
	require.NoError(t, json.Unmarshal(want, wt))
	require.NoError(t, json.Unmarshal(got, gt))
	require.Equal(t, wt, gt)
}
