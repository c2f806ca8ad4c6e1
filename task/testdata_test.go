package task_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/errdefs"
	"github.com/stevedore-io/stevedore/task"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/invalid")

// TestValidDefinitions parses and validates every testdata/*.json: each
// is a realistic definition that must pass.
func TestValidDefinitions(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/*.json")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(file)
			require.NoError(t, err)
			td, _, err := task.ParseDefinition(data)
			require.NoError(t, err)
			require.NoError(t, td.Validate())
			_, err = td.StartOrder()
			require.NoError(t, err)
			assertRoundTrip(t, td)
		})
	}
}

// assertRoundTrip checks that marshalling td and parsing the result gives
// td again.
func assertRoundTrip(t *testing.T, td *task.TaskDefinition) {
	t.Helper()
	b, err := json.Marshal(td)
	require.NoError(t, err)
	again, _, err := task.ParseDefinition(b)
	require.NoError(t, err, "re-parse of %s", b)
	require.Equal(t, td, again)
}

// TestInvalidDefinitions compares what ParseDefinition and Validate say
// about each testdata/invalid/*.json with its .golden file. Run with
// -update to rewrite the golden files, then read them.
func TestInvalidDefinitions(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/invalid/*.json")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(file)
			require.NoError(t, err)
			got := describeProblems(t, data)
			golden := strings.TrimSuffix(file, ".json") + ".golden"
			if *update {
				require.NoError(t, os.WriteFile(golden, []byte(got), 0o644))
				return
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "run go test -update to create it")
			assert.Equal(t, string(want), got)
		})
	}
}

// describeProblems renders the outcome of parsing and validating data:
// the parse error, or the warnings and every validation error.
func describeProblems(t *testing.T, data []byte) string {
	var b strings.Builder
	td, warnings, err := task.ParseDefinition(data)
	if err != nil {
		require.ErrorIs(t, err, task.ErrMalformed)
		fmt.Fprintf(&b, "parse error: %v\n", err)
		return b.String()
	}
	for _, w := range warnings {
		fmt.Fprintf(&b, "warning: %s\n", w)
	}
	err = td.Validate()
	require.Error(t, err, "an invalid definition must not validate")
	require.ErrorIs(t, err, task.ErrInvalid)
	fes := errdefs.FieldErrors(err)
	require.NotEmpty(t, fes)
	for _, fe := range fes {
		fmt.Fprintf(&b, "%s: %s\n", fe.Path, fe.Reason)
	}
	return b.String()
}
