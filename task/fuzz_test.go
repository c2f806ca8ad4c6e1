package task_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/task"
)

// FuzzParseDefinition checks that ParseDefinition never panics, and that
// whatever it accepts survives marshal and parse unchanged, together with
// its unknown fields. Validate, StartOrder, Requirements and Clone must
// not panic on anything it accepts.
func FuzzParseDefinition(f *testing.F) {
	for _, pattern := range []string{"testdata/*.json", "testdata/invalid/*.json"} {
		files, err := filepath.Glob(pattern)
		require.NoError(f, err)
		for _, file := range files {
			data, err := os.ReadFile(file)
			require.NoError(f, err)
			f.Add(data)
		}
	}
	for _, seed := range []string{
		``, `null`, `{}`, `[]`, `{"taskDefinition":null}`, `{"taskDefinition":{},"tags":[{"key":"k","x":1}]}`,
		`{"cpu":1e3,"memory":-0}`, `{"registeredAt":-62135596800.5}`, `{"registeredAt":"0000-01-01T00:00:00+01:00"}`,
		`{"containerDefinitions":[{"Name":"a","name":"b","name":"c"}]}`, `{"x":"\u2028<>&\ud800"}`,
	} {
		f.Add([]byte(seed))
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		td, warnings, err := task.ParseDefinition(data)
		if err != nil {
			require.ErrorIs(t, err, task.ErrMalformed)
			return
		}
		_ = td.Validate()
		_, _ = td.StartOrder()
		td.Requirements()
		require.Equal(t, td, td.Clone())

		b, err := json.Marshal(td)
		require.NoError(t, err)
		if len(b) > task.MaxDefinitionBytes {
			// Marshal escapes <, > and &, and writes U+FFFD for bad
			// UTF-8, six bytes each: the input fit, its encoding not.
			_, _, err := task.ParseDefinition(b)
			require.ErrorIs(t, err, task.ErrTooLarge)
			return
		}
		again, againWarnings, err := task.ParseDefinition(b)
		require.NoError(t, err, "re-parse of %s", b)
		require.Equal(t, td, again, "round trip through %s", b)
		require.Equal(t, td.UnknownFields(), againWarnings)
		require.LessOrEqual(t, len(againWarnings), len(warnings)+len(td.Tags), "no warning appears from nowhere")
	})
}
