package integration

import (
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/logs"
)

// TestLogsAreQueryable sends two containers' output to the logs store
// (stevedore.WithLogSink) and queries it: by task and container, tail,
// since and until, substring, regular expression and stream.
func TestLogsAreQueryable(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// "early" lines, a pause long enough to tell them apart by time, then
	// "late" lines; one line on stderr.
	script := `for i in 1 2 3 4 5; do echo "early $i"; done
echo "something odd" >&2
sleep 1.5
for i in 1 2 3; do echo "late $i"; done
` + idleScript
	def := e.registerDef(fmt.Sprintf(`{
		"family": "chatty",
		"networkMode": "awsvpc",
		"containerDefinitions": [
			{"name": "talker", "image": %[1]q, "essential": true, "memory": 16, %[2]s, "stopTimeout": 2},
			{"name": "quiet", "image": %[1]q, "essential": true, "memory": 16, %[3]s, "stopTimeout": 2}
		]
	}`, imageRef, shellCommand(script), shellCommand(`echo "quiet here"; `+idleScript)))

	id := e.waitRunning(e.runTask(def).ID(), 30*time.Second).ID()
	e.waitLogs(logs.Query{Task: id, Container: "talker", Contains: "late 3"}, 1, 15*time.Second)
	e.waitLogs(logs.Query{Task: id, Container: "quiet"}, 1, 5*time.Second)

	all, err := e.logs.Query(logs.Query{Task: id, Container: "talker"})
	require.NoError(t, err)
	require.Len(t, all, 9, "lines: %s", toJSON(all))
	var stdout []string
	for _, en := range all {
		assert.Equal(t, id, en.Task)
		assert.Equal(t, "talker", en.Container)
		if en.Stream == logs.Stdout {
			stdout = append(stdout, en.Message)
		}
	}
	assert.Equal(t, []string{"early 1", "early 2", "early 3", "early 4", "early 5", "late 1", "late 2", "late 3"}, stdout, "stdout lines in order")

	byMessage := map[string]logs.Entry{}
	for _, en := range all {
		byMessage[en.Message] = en
	}
	lastEarly, firstLate := byMessage["early 5"].Time, byMessage["late 1"].Time
	require.True(t, firstLate.Sub(lastEarly) > time.Second, "the pause shows in the times: %s then %s", lastEarly, firstLate)
	middle := lastEarly.Add(firstLate.Sub(lastEarly) / 2)

	tests := []struct {
		name string
		q    logs.Query
		want []string
	}{
		{"tail", logs.Query{Task: id, Container: "talker", Tail: 2}, []string{"late 2", "late 3"}},
		{"since", logs.Query{Task: id, Container: "talker", Since: middle}, []string{"late 1", "late 2", "late 3"}},
		{"until", logs.Query{Task: id, Container: "talker", Until: middle, Stream: logs.Stdout}, []string{"early 1", "early 2", "early 3", "early 4", "early 5"}},
		{"since and tail", logs.Query{Task: id, Container: "talker", Since: middle, Tail: 1}, []string{"late 3"}},
		{"contains", logs.Query{Task: id, Contains: "early 3"}, []string{"early 3"}},
		{"match", logs.Query{Task: id, Match: regexp.MustCompile(`^late [13]$`)}, []string{"late 1", "late 3"}},
		{"stderr", logs.Query{Task: id, Stream: logs.Stderr}, []string{"something odd"}},
		{"other container", logs.Query{Task: id, Container: "quiet"}, []string{"quiet here"}},
		{"whole task filtered", logs.Query{Task: id, Match: regexp.MustCompile(`quiet|odd`)}, []string{"something odd", "quiet here"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.logs.Query(tt.q)
			require.NoError(t, err)
			var msgs []string
			for _, en := range got {
				msgs = append(msgs, en.Message)
			}
			if tt.name == "whole task filtered" {
				assert.ElementsMatch(t, tt.want, msgs)
				return
			}
			assert.Equal(t, tt.want, msgs)
		})
	}

	// The lines stay queryable once the task stopped.
	e.stopTask(id)
	got, err := e.logs.Query(logs.Query{Task: id, Container: "talker", Tail: 1})
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, "late 3", got[0].Message)
}
