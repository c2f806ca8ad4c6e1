package task_test

import (
	"path/filepath"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/task"
)

// references collects the addresses of everything v refers to: pointers,
// maps and the arrays behind slices.
func references(v reflect.Value, into map[uintptr]string, path string) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			into[v.Pointer()] = path
			references(v.Elem(), into, path)
		}
	case reflect.Map:
		if !v.IsNil() {
			into[v.Pointer()] = path
			for it := v.MapRange(); it.Next(); {
				references(it.Value(), into, path+"["+it.Key().String()+"]")
			}
		}
	case reflect.Slice:
		if v.Len() > 0 {
			into[v.Pointer()] = path
			for i := range v.Len() {
				references(v.Index(i), into, path)
			}
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				references(v.Field(i), into, path+"."+v.Type().Field(i).Name)
			}
		}
	}
}

func TestTaskDefinitionCloneIsDeep(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/*.json")
	require.NoError(t, err)
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			t.Parallel()
			td, _, err := task.ParseDefinition(readTestdata(t, filepath.Base(file)))
			require.NoError(t, err)
			c := td.Clone()
			require.Equal(t, td, c)

			orig, cloned := map[uintptr]string{}, map[uintptr]string{}
			references(reflect.ValueOf(td), orig, "")
			references(reflect.ValueOf(c), cloned, "")
			require.NotEmpty(t, orig)
			for addr, path := range cloned {
				_, shared := orig[addr]
				assert.False(t, shared, "clone shares %s with the original", path)
			}
		})
	}
	var nilDef *task.TaskDefinition
	assert.Nil(t, nilDef.Clone())
}
