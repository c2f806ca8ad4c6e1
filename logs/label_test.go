package logs_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/logs"
)

func TestLabellerLabelsEachTaskOnce(t *testing.T) {
	t.Parallel()
	s, err := logs.Open(t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	calls := map[string]int{}
	var failures []string
	l := logs.NewLabeller(s, func(taskID string) (map[string]string, error) {
		calls[taskID]++
		if taskID == "gone" {
			return nil, errors.New("no such task")
		}
		return map[string]string{"cluster": "test"}, nil
	}, func(taskID string, err error) { failures = append(failures, taskID) })

	for _, c := range []string{"app", "sidecar"} {
		out, _ := l.Writers("t1", c)
		_, err := out.Write([]byte("hello\n"))
		require.NoError(t, err)
	}
	assert.Equal(t, 1, calls["t1"], "labelled once")
	tl, err := s.Task("t1")
	require.NoError(t, err)
	assert.Equal(t, "test", tl.Labels["cluster"])

	l.Writers("gone", "app")
	l.Writers("gone", "app")
	assert.Equal(t, 2, calls["gone"], "a failure is tried again")
	assert.Equal(t, []string{"gone", "gone"}, failures)
}
