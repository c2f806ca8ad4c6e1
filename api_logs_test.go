package stevedore_test

import (
	"context"
	"fmt"
	"io"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/logs"
	"github.com/stevedore-io/stevedore/stevedoretest"
	"github.com/stevedore-io/stevedore/task"
)

// chattyDef's talker writes three lines at once, one on stderr, then two
// more lines two seconds later; quiet writes one line.
const chattyDef = `{
  "family": "%s",
  "networkMode": "awsvpc",
  "containerDefinitions": [
    {"name": "talker", "image": "busybox", "memory": 64, "essential": true,
     "command": ["sh", "-c", "echo 'early 1'; echo 'early 2'; echo 'odd thing' >&2; sleep 2; echo 'late 1'; echo 'ERROR late timeout'; sleep infinity"]},
    {"name": "quiet", "image": "busybox", "memory": 64, "essential": true,
     "command": ["sh", "-c", "echo 'quiet here'; sleep infinity"]}
  ]
}`

// logEnv is an env whose Orchestrator sends logs to a logs.Store.
func logEnv(t *testing.T, opts ...stevedore.Option) (*env, *logs.Store) {
	t.Helper()
	ls, err := logs.Open(t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { ls.Close() })
	o, err := stevedore.New(append([]stevedore.Option{stevedore.WithSeed(1), stevedore.WithLogSink(ls)}, opts...)...)
	require.NoError(t, err)
	e := envFor(t, o, 1)
	for _, family := range []string{"chatty", "other"} {
		td, _, err := task.ParseDefinition(fmt.Appendf(nil, chattyDef, family))
		require.NoError(t, err)
		_, err = o.RegisterTaskDefinition(e.ctx, &stevedore.RegisterTaskDefinitionInput{TaskDefinition: *td})
		require.NoError(t, err)
	}
	return e, ls
}

func (e *env) runLogged(family string) string {
	e.t.Helper()
	out, err := e.o.RunTask(e.ctx, &stevedore.RunTaskInput{Cluster: "test", TaskDefinition: family})
	require.NoError(e.t, err)
	require.Len(e.t, out.Tasks, 1)
	return out.Tasks[0].ID()
}

func eventMessages(evs []stevedore.LogEvent) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Message)
	}
	return out
}

func TestGetLogEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, _ := logEnv(t)
		id := e.runLogged("chatty")
		started := time.Now()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		get := func(in stevedore.GetLogEventsInput) *stevedore.GetLogEventsOutput {
			t.Helper()
			in.Cluster, in.Task = "test", id
			if in.Container == "" {
				in.Container = "talker"
			}
			out, err := e.o.GetLogEvents(e.ctx, &in)
			require.NoError(t, err)
			return out
		}

		all := get(stevedore.GetLogEventsInput{})
		require.Equal(t, []string{"early 1", "early 2", "odd thing", "late 1", "ERROR late timeout"}, eventMessages(all.Events))
		ev := all.Events[2]
		assert.Equal(t, id, ev.TaskID)
		assert.Equal(t, "talker", ev.Container)
		assert.Equal(t, logs.Stderr, ev.Stream)
		assert.Equal(t, all.Events[0].Timestamp, ev.Timestamp, "the first lines came at one instant")
		assert.Equal(t, 2*time.Second, all.Events[3].Timestamp.Sub(ev.Timestamp))
		assert.Equal(t, []string{"quiet here"}, eventMessages(get(stevedore.GetLogEventsInput{Container: "quiet"}).Events))

		{ // newest first by default, paging backwards
			page := get(stevedore.GetLogEventsInput{Limit: 2})
			assert.Equal(t, []string{"late 1", "ERROR late timeout"}, eventMessages(page.Events))
			page = get(stevedore.GetLogEventsInput{Limit: 2, NextToken: page.NextBackwardToken})
			assert.Equal(t, []string{"early 2", "odd thing"}, eventMessages(page.Events), "two of three lines of one instant")
			page = get(stevedore.GetLogEventsInput{Limit: 2, NextToken: page.NextBackwardToken})
			assert.Equal(t, []string{"early 1"}, eventMessages(page.Events))
			end := get(stevedore.GetLogEventsInput{Limit: 2, NextToken: page.NextBackwardToken})
			assert.Empty(t, end.Events)
			assert.Equal(t, page.NextBackwardToken, end.NextBackwardToken, "the start gives back its token")
		}
		{ // from the head, paging forwards and following
			var got []string
			page := get(stevedore.GetLogEventsInput{Limit: 2, StartFromHead: true})
			for range 5 {
				got = append(got, eventMessages(page.Events)...)
				next := get(stevedore.GetLogEventsInput{Limit: 2, NextToken: page.NextForwardToken})
				if next.NextForwardToken == page.NextForwardToken {
					assert.Empty(t, next.Events)
					break
				}
				page = next
			}
			assert.Equal(t, eventMessages(all.Events), got)
		}
		{ // time range
			page := get(stevedore.GetLogEventsInput{StartTime: started.Add(time.Second), StartFromHead: true})
			assert.Equal(t, []string{"late 1", "ERROR late timeout"}, eventMessages(page.Events))
			page = get(stevedore.GetLogEventsInput{EndTime: started.Add(time.Second)})
			assert.Equal(t, []string{"early 1", "early 2", "odd thing"}, eventMessages(page.Events))
		}

		{ // errors
			_, err := e.o.GetLogEvents(e.ctx, &stevedore.GetLogEventsInput{Cluster: "test", Task: "nope", Container: "talker"})
			var unknown *stevedore.UnknownLogStreamError
			require.ErrorAs(t, err, &unknown)
			assert.ErrorIs(t, err, stevedore.ErrNotFound)
			assert.Equal(t, stevedore.UnknownLogStreamError{Cluster: "test", Task: "nope"}, *unknown)
			_, err = e.o.GetLogEvents(e.ctx, &stevedore.GetLogEventsInput{Cluster: "test", Task: id, Container: "nope"})
			require.ErrorAs(t, err, &unknown)
			assert.Equal(t, "nope", unknown.Container)
			_, err = e.o.GetLogEvents(e.ctx, &stevedore.GetLogEventsInput{Cluster: "elsewhere", Task: id, Container: "talker"})
			require.ErrorAs(t, err, &unknown, "a task of another cluster")

			var field *stevedore.FieldError
			for name, in := range map[string]stevedore.GetLogEventsInput{
				"limit":     {Limit: stevedore.MaxLogEvents + 1},
				"endTime":   {StartTime: started, EndTime: started.Add(-time.Second)},
				"nextToken": {NextToken: "garbage"},
				"container": {Container: ""},
			} {
				in.Cluster, in.Task = "test", id
				if name != "container" {
					in.Container = "talker"
				}
				_, err := e.o.GetLogEvents(e.ctx, &in)
				require.ErrorAs(t, err, &field, name)
				assert.Equal(t, name, field.Path)
			}
		}
	})
}

func TestFilterLogEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, _ := logEnv(t)
		a, b := e.runLogged("chatty"), e.runLogged("chatty")
		c := e.runLogged("other")
		_, err := e.o.CreateService(e.ctx, &stevedore.CreateServiceInput{Cluster: "test", ServiceName: "svc", TaskDefinition: "other", DesiredCount: 1})
		require.NoError(t, err)
		time.Sleep(time.Minute)
		synctest.Wait()
		svcTasks := e.tasks(stevedore.ListTasksInput{ServiceName: "svc"})
		require.Len(t, svcTasks, 1)
		s := svcTasks[0].ID()

		filter := func(in stevedore.FilterLogEventsInput) *stevedore.FilterLogEventsOutput {
			t.Helper()
			in.Cluster = "test"
			out, err := e.o.FilterLogEvents(e.ctx, &in)
			require.NoError(t, err)
			return out
		}
		tasksOf := func(evs []stevedore.LogEvent) map[string]int {
			n := map[string]int{}
			for _, ev := range evs {
				n[ev.TaskID]++
			}
			return n
		}
		assert.Equal(t, map[string]int{a: 6, b: 6, c: 6, s: 6}, tasksOf(filter(stevedore.FilterLogEventsInput{}).Events))
		assert.Equal(t, map[string]int{a: 6, b: 6}, tasksOf(filter(stevedore.FilterLogEventsInput{Family: "chatty"}).Events))
		assert.Equal(t, map[string]int{s: 6}, tasksOf(filter(stevedore.FilterLogEventsInput{ServiceName: "svc"}).Events))
		assert.Equal(t, map[string]int{c: 6}, tasksOf(filter(stevedore.FilterLogEventsInput{TaskIDs: []string{c, "arn:aws:ecs:local:0:task/test/" + a}, Family: "other"}).Events))
		assert.Equal(t, map[string]int{a: 1}, tasksOf(filter(stevedore.FilterLogEventsInput{TaskIDs: []string{a}, Container: "quiet"}).Events))

		for pattern, want := range map[string][]string{
			"late":                  {"late 1", "ERROR late timeout"},
			"ERROR timeout":         {"ERROR late timeout"},
			`"late timeout"`:        {"ERROR late timeout"},
			`"timeout late"`:        nil,
			`%^(early|late) 1$%`:    {"early 1", "late 1"},
			`%here%`:                {"quiet here"},
			`  "odd thing"  early `: nil,
		} {
			got := filter(stevedore.FilterLogEventsInput{TaskIDs: []string{a}, FilterPattern: pattern})
			assert.ElementsMatch(t, want, eventMessages(got.Events), pattern)
		}

		// Paging goes through every event once, oldest first, whatever the
		// ties in time.
		whole := filter(stevedore.FilterLogEventsInput{})
		assert.Empty(t, whole.NextToken)
		var paged []stevedore.LogEvent
		in := stevedore.FilterLogEventsInput{Limit: 5}
		for range 10 {
			page := filter(in)
			paged = append(paged, page.Events...)
			if page.NextToken == "" {
				break
			}
			in.NextToken = page.NextToken
		}
		assert.Equal(t, whole.Events, paged)
		for i := 1; i < len(paged); i++ {
			assert.False(t, paged[i].Timestamp.Before(paged[i-1].Timestamp), "oldest first")
		}

		var field *stevedore.FieldError
		_, err = e.o.FilterLogEvents(e.ctx, &stevedore.FilterLogEventsInput{Cluster: "test", FilterPattern: "%(unclosed%"})
		require.ErrorAs(t, err, &field)
		assert.Equal(t, "filterPattern", field.Path)
		assert.ErrorIs(t, err, stevedore.ErrInvalid)
		_, err = e.o.FilterLogEvents(e.ctx, &stevedore.FilterLogEventsInput{Cluster: "test", FilterPattern: `"open`})
		require.ErrorAs(t, err, &field)
		_, err = e.o.FilterLogEvents(e.ctx, &stevedore.FilterLogEventsInput{Cluster: "nope"})
		assert.ErrorIs(t, err, stevedore.ErrNotFound)
	})
}

// TestLogsOutliveForgottenTasks: once the reaper forgot a stopped task, its
// logs are still found by task, by family and by service, in its cluster
// only.
func TestLogsOutliveForgottenTasks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, ls := logEnv(t, stevedore.WithTaskRetention(10*time.Minute))
		id := e.runLogged("chatty")
		time.Sleep(time.Minute)
		synctest.Wait()
		_, err := e.o.StopTask(e.ctx, &stevedore.StopTaskInput{Cluster: "test", Task: id})
		require.NoError(t, err)
		time.Sleep(time.Hour)
		synctest.Wait()
		_, err = stevedoretest.TasksOf(e.o.DescribeTasks(e.ctx, &stevedore.DescribeTasksInput{Cluster: "test", Tasks: []string{id}}))
		require.ErrorIs(t, err, stevedore.ErrNotFound, "the task is forgotten")

		out, err := e.o.GetLogEvents(e.ctx, &stevedore.GetLogEventsInput{Cluster: "test", Task: id, Container: "talker", Limit: 1})
		require.NoError(t, err)
		assert.Equal(t, []string{"ERROR late timeout"}, eventMessages(out.Events))
		filtered, err := e.o.FilterLogEvents(e.ctx, &stevedore.FilterLogEventsInput{Cluster: "test", Family: "chatty", FilterPattern: "quiet"})
		require.NoError(t, err)
		assert.Equal(t, []string{"quiet here"}, eventMessages(filtered.Events))

		var unknown *stevedore.UnknownLogStreamError
		_, err = e.o.GetLogEvents(e.ctx, &stevedore.GetLogEventsInput{Cluster: "test", Task: id, Container: "nope"})
		require.ErrorAs(t, err, &unknown)
		assert.Equal(t, "nope", unknown.Container)
		_, err = e.o.GetLogEvents(e.ctx, &stevedore.GetLogEventsInput{Cluster: "other", Task: id, Container: "talker"})
		require.ErrorAs(t, err, &unknown)

		// Removing the logs is the end of them.
		require.NoError(t, ls.Remove(id))
		_, err = e.o.GetLogEvents(e.ctx, &stevedore.GetLogEventsInput{Cluster: "test", Task: id, Container: "talker"})
		require.ErrorAs(t, err, &unknown)
	})
}

func TestLogQueriesNeedAQueryableSink(t *testing.T) {
	t.Parallel()
	for name, opts := range map[string][]stevedore.Option{
		"no sink":    nil,
		"write-only": {stevedore.WithLogSink(writeOnlySink{})},
	} {
		o, err := stevedore.New(opts...)
		require.NoError(t, err)
		t.Cleanup(func() { o.Close() })
		_, err = o.GetLogEvents(context.Background(), &stevedore.GetLogEventsInput{Cluster: "c", Task: "t", Container: "x"})
		assert.ErrorIs(t, err, stevedore.ErrLogsUnavailable, name)
		_, err = o.FilterLogEvents(context.Background(), &stevedore.FilterLogEventsInput{Cluster: "c"})
		assert.ErrorIs(t, err, stevedore.ErrLogsUnavailable, name)
	}
}

type writeOnlySink struct{}

func (writeOnlySink) Writers(string, string) (stdout, stderr io.Writer) {
	return io.Discard, io.Discard
}
