package state_test

import (
	"encoding"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/internal/testutil"
	"github.com/stevedore-io/stevedore/network"
	"github.com/stevedore-io/stevedore/service"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/task"
)

// samples returns one realistic object of every stored kind, with
// revisions set as a store would set them.
func samples(t testing.TB) []store.Object {
	data, err := os.ReadFile("../../task/testdata/web-healthcheck.json")
	require.NoError(t, err)
	td, _, err := task.ParseDefinition(data)
	require.NoError(t, err)
	td.Revision = 3
	at := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	tk, err := task.NewTask("arn:aws:ecs:local:0:task/prod/0123abcd", td, nil, at)
	require.NoError(t, err)
	meta := store.Meta{CreateRevision: 3, ModRevision: 9}
	return []store.Object{
		&state.Cluster{Meta: meta, Cluster: cluster.Cluster{Name: "prod", Status: "ACTIVE"}, CreatedAt: at},
		&state.Instance{Meta: meta, ContainerInstance: testutil.Instance("i-1").CPU(2048).Memory(4096).AZ("a").Obj(), ReclaimAt: at},
		&state.TaskDefinition{Meta: meta, TaskDefinition: td},
		&state.Task{Meta: meta, Task: tk, ServiceName: "web", TargetHealth: state.TargetHealthHealthy,
			Drain: &state.Drain{By: []string{state.DrainTargets}, Deadline: at}},
		&state.Service{Meta: meta, Service: service.Service{Name: "web", Cluster: "prod", DesiredCount: 2, TaskDefinition: "web:3", CreatedAt: at}},
		&state.SecurityGroup{Meta: meta, SecurityGroup: network.SecurityGroup{ID: "sg-1", Name: "web"}},
		&state.Scaling{Meta: meta, Cluster: "prod", Service: "web"},
		&state.Sample{Meta: meta, TaskID: "0123abcd", Instance: "i-1", CPU: 3 * time.Second, Memory: 64 << 20, At: at},
	}
}

// TestSchemasCoverEveryKind checks that every Kind constant of the package
// has a schema, so that a durable store can read back every kind written.
func TestSchemasCoverEveryKind(t *testing.T) {
	t.Parallel()
	pkgs, err := parser.ParseDir(token.NewFileSet(), ".", func(fi os.FileInfo) bool {
		return !strings.HasSuffix(fi.Name(), "_test.go")
	}, 0)
	require.NoError(t, err)
	var kinds []string
	for _, pkg := range pkgs {
		ast.Inspect(pkg, func(n ast.Node) bool {
			spec, ok := n.(*ast.ValueSpec)
			if !ok {
				return true
			}
			for i, name := range spec.Names {
				if strings.HasPrefix(name.Name, "Kind") && i < len(spec.Values) {
					if lit, ok := spec.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						kind, err := strconv.Unquote(lit.Value)
						require.NoError(t, err)
						kinds = append(kinds, kind)
					}
				}
			}
			return true
		})
	}
	require.NotEmpty(t, kinds)
	assert.ElementsMatch(t, kinds, slices.Collect(maps.Keys(state.Schemas())),
		"every Kind constant needs an entry in Schemas, and only those")
}

// TestCodecRoundTrip checks that every kind comes back with its revisions
// and encodes back to the same bytes.
func TestCodecRoundTrip(t *testing.T) {
	t.Parallel()
	codec := state.Codec()
	objs := samples(t)
	require.Len(t, objs, len(state.Schemas()), "one sample per kind")
	for _, obj := range objs {
		t.Run(obj.Kind(), func(t *testing.T) {
			t.Parallel()
			data, err := codec.Marshal(obj)
			require.NoError(t, err)
			got, err := codec.Unmarshal(obj.Kind(), data)
			require.NoError(t, err)
			assert.Equal(t, *obj.StoreMeta(), *got.StoreMeta(), "revisions are kept")
			assert.Equal(t, obj.ObjectID(), got.ObjectID())
			assert.Equal(t, obj, got, "nothing is lost on the way")
			again, err := codec.Marshal(got)
			require.NoError(t, err)
			assert.JSONEq(t, string(data), string(again))
		})
	}
}

// TestCodecEmptyObject checks the inputs that crashed the codec (an empty
// object for taskdefinitions and tasks): none panics, and those without an
// object are refused.
func TestCodecEmptyObject(t *testing.T) {
	t.Parallel()
	codec := state.Codec()
	for kind := range state.Schemas() {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			for _, data := range []string{`{}`, `{"object":null}`, `{"object":"x"}`} {
				_, err := codec.Unmarshal(kind, []byte(data))
				require.ErrorIs(t, err, store.ErrInvalid, "%s", data)
			}
			obj, err := codec.Unmarshal(kind, []byte(`{"schema":0,"object":{}}`))
			if err != nil {
				require.ErrorIs(t, err, store.ErrInvalid)
				return
			}
			assert.NotEmpty(t, obj.ObjectID())
		})
	}
}

// FuzzDecode checks that decoding never panics, whatever the kind and the
// bytes, and that whatever decodes encodes and decodes again to the same
// bytes, keeping its kind, ID and revisions. Seeds are real encoded
// objects of every kind.
func FuzzDecode(f *testing.F) {
	codec := state.Codec()
	kinds := slices.Sorted(maps.Keys(state.Schemas()))
	for _, obj := range samples(f) {
		data, err := codec.Marshal(obj)
		require.NoError(f, err)
		i := slices.Index(kinds, obj.Kind())
		f.Add(uint8(i), data)
		f.Add(uint8(i), []byte(`{}`))
		f.Add(uint8(i), []byte(`{"schema":0,"meta":{"modRevision":1},"object":{}}`))
	}
	f.Fuzz(func(t *testing.T, k uint8, data []byte) {
		kind := kinds[int(k)%len(kinds)]
		obj, err := codec.Unmarshal(kind, data)
		if err != nil {
			require.ErrorIs(t, err, store.ErrInvalid)
			return
		}
		require.Equal(t, kind, obj.Kind())
		require.NotEmpty(t, obj.ObjectID())
		encoded, err := codec.Marshal(obj)
		if err != nil {
			// Some decodable values have no encoding (a time with a
			// year past 9999); a store never wrote them.
			return
		}
		again, err := codec.Unmarshal(kind, encoded)
		require.NoError(t, err)
		require.Equal(t, obj.ObjectID(), again.ObjectID())
		require.Equal(t, *obj.StoreMeta(), *again.StoreMeta())
	})
}

// TestStoredTypesKeepEverything walks every stored type and checks that
// each field is encoded: a field JSON skips (unexported, or tagged "-")
// would be lost when a durable store reads the object back after a
// restart. Types that encode themselves (json.Marshaler,
// encoding.TextMarshaler) are trusted with their fields.
func TestStoredTypesKeepEverything(t *testing.T) {
	t.Parallel()
	marshaler := reflect.TypeFor[json.Marshaler]()
	textMarshaler := reflect.TypeFor[encoding.TextMarshaler]()
	seen := map[reflect.Type]bool{}
	var walk func(path string, typ reflect.Type)
	walk = func(path string, typ reflect.Type) {
		if seen[typ] {
			return
		}
		seen[typ] = true
		if typ.Implements(marshaler) || reflect.PointerTo(typ).Implements(marshaler) ||
			typ.Implements(textMarshaler) || reflect.PointerTo(typ).Implements(textMarshaler) {
			return
		}
		switch typ.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Array:
			walk(path, typ.Elem())
		case reflect.Map:
			walk(path+"[key]", typ.Key())
			walk(path+"[]", typ.Elem())
		case reflect.Struct:
			for i := range typ.NumField() {
				f := typ.Field(i)
				name := path + "." + f.Name
				if !f.IsExported() && !f.Anonymous {
					t.Errorf("%s (%s) is unexported: JSON does not keep it", name, f.Type)
					continue
				}
				if f.Tag.Get("json") == "-" {
					t.Errorf("%s is tagged json:\"-\": JSON does not keep it", name)
					continue
				}
				walk(name, f.Type)
			}
		case reflect.Func, reflect.Chan, reflect.Interface, reflect.UnsafePointer:
			t.Errorf("%s is a %s: JSON cannot keep it", path, typ.Kind())
		}
	}
	for kind, schema := range state.Schemas() {
		walk(kind, reflect.TypeOf(schema.New()))
	}
}
