package integration

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/logs"
)

// TestLogsAreQueryable sends two containers' output to the logs store
// (stevedore.WithLogSink) and reads it through the Orchestrator's
// GetLogEvents and FilterLogEvents: by task and container, newest or oldest
// first, by time, by filter pattern, with the stream of each line.
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
	e.waitLogEvents(stevedore.FilterLogEventsInput{TaskIDs: []string{id}, Container: "talker", FilterPattern: `"late 3"`}, 1, 15*time.Second)
	e.waitLogEvents(stevedore.FilterLogEventsInput{TaskIDs: []string{id}, Container: "quiet"}, 1, 5*time.Second)

	get := func(in stevedore.GetLogEventsInput) []stevedore.LogEvent {
		t.Helper()
		in.Cluster, in.Task = e.cluster, id
		if in.Container == "" {
			in.Container = "talker"
		}
		out, err := e.orc.GetLogEvents(e.ctx, &in)
		require.NoError(t, err)
		return out.Events
	}
	filter := func(in stevedore.FilterLogEventsInput) []stevedore.LogEvent {
		t.Helper()
		in.Cluster = e.cluster
		out, err := e.orc.FilterLogEvents(e.ctx, &in)
		require.NoError(t, err)
		return out.Events
	}

	all := get(stevedore.GetLogEventsInput{StartFromHead: true})
	require.Len(t, all, 9, "lines: %s", toJSON(all))
	var stdout []string
	for _, ev := range all {
		assert.Equal(t, id, ev.TaskID)
		assert.Equal(t, "talker", ev.Container)
		if ev.Stream == logs.Stdout {
			stdout = append(stdout, ev.Message)
		}
	}
	assert.Equal(t, []string{"early 1", "early 2", "early 3", "early 4", "early 5", "late 1", "late 2", "late 3"}, stdout, "stdout lines in order")

	byMessage := map[string]stevedore.LogEvent{}
	for _, ev := range all {
		byMessage[ev.Message] = ev
	}
	assert.Equal(t, logs.Stderr, byMessage["something odd"].Stream)
	lastEarly, firstLate := byMessage["early 5"].Timestamp, byMessage["late 1"].Timestamp
	require.True(t, firstLate.Sub(lastEarly) > time.Second, "the pause shows in the times: %s then %s", lastEarly, firstLate)
	middle := lastEarly.Add(firstLate.Sub(lastEarly) / 2)

	tests := []struct {
		name string
		got  func() []stevedore.LogEvent
		want []string
		// anyOrder is for lines of two pipes (stdout and stderr, or two
		// containers) read at about the same time.
		anyOrder bool
	}{
		{"newest by default", func() []stevedore.LogEvent { return get(stevedore.GetLogEventsInput{Limit: 2}) },
			[]string{"late 2", "late 3"}, false},
		{"since", func() []stevedore.LogEvent {
			return get(stevedore.GetLogEventsInput{StartTime: middle, StartFromHead: true})
		}, []string{"late 1", "late 2", "late 3"}, false},
		{"until", func() []stevedore.LogEvent { return get(stevedore.GetLogEventsInput{EndTime: middle}) },
			[]string{"early 1", "early 2", "early 3", "early 4", "early 5", "something odd"}, true},
		{"since, newest", func() []stevedore.LogEvent { return get(stevedore.GetLogEventsInput{StartTime: middle, Limit: 1}) },
			[]string{"late 3"}, false},
		{"other container", func() []stevedore.LogEvent { return get(stevedore.GetLogEventsInput{Container: "quiet"}) },
			[]string{"quiet here"}, false},
		{"phrase", func() []stevedore.LogEvent {
			return filter(stevedore.FilterLogEventsInput{TaskIDs: []string{id}, FilterPattern: `"early 3"`})
		}, []string{"early 3"}, false},
		{"regular expression", func() []stevedore.LogEvent {
			return filter(stevedore.FilterLogEventsInput{TaskIDs: []string{id}, FilterPattern: `%^late [13]$%`})
		}, []string{"late 1", "late 3"}, false},
		{"family, both containers", func() []stevedore.LogEvent {
			return filter(stevedore.FilterLogEventsInput{Family: "chatty", FilterPattern: `%quiet|odd%`})
		}, []string{"something odd", "quiet here"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var msgs []string
			for _, ev := range tt.got() {
				msgs = append(msgs, ev.Message)
			}
			if tt.anyOrder {
				assert.ElementsMatch(t, tt.want, msgs)
				return
			}
			assert.Equal(t, tt.want, msgs)
		})
	}

	// The lines stay queryable once the task stopped.
	e.stopTask(id)
	last := get(stevedore.GetLogEventsInput{Limit: 1})
	require.Len(t, last, 1)
	assert.Equal(t, "late 3", last[0].Message)
}

// waitLogEvents waits until FilterLogEvents returns at least n events.
func (e *env) waitLogEvents(in stevedore.FilterLogEventsInput, n int, timeout time.Duration) {
	e.t.Helper()
	in.Cluster = e.cluster
	deadline := time.Now().Add(timeout)
	for {
		out, err := e.orc.FilterLogEvents(e.ctx, &in)
		require.NoError(e.t, err)
		if len(out.Events) >= n {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("logs: %d events match %+v after %s, want %d: %s", len(out.Events), in, timeout, n, toJSON(out.Events))
		}
		sleep(e.ctx, pollEvery)
	}
}
