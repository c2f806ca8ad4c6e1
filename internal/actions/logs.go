package actions

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stevedore-io/stevedore/agent"
	"github.com/stevedore-io/stevedore/api"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/logs"
	"github.com/stevedore-io/stevedore/store"
)

// maxLogTaskIDs bounds FilterLogEventsInput.TaskIDs (CloudWatch's
// logStreamNames takes at most 100).
const maxLogTaskIDs = 100

// GetLogEvents returns the output of one container of a task, running or
// stopped, including a task forgotten after the task retention while its
// logs remain in the log store. Orchestrator.GetLogEvents documents it.
func (a *Actions) GetLogEvents(ctx context.Context, in api.GetLogEventsInput) (*api.GetLogEventsOutput, error) {
	in.Cluster = clusterName(in.Cluster)
	q, err := a.beginLogQuery(in.Limit, in.StartTime, in.EndTime, in.NextToken)
	if err != nil {
		return nil, err
	}
	ls, limit, cur := q.ls, q.limit, q.cur
	if in.Container == "" {
		return nil, invalid("container", "required")
	}
	forward := in.StartFromHead
	if in.NextToken != "" {
		forward = q.forward
	}
	id := lastSegment(in.Task)
	if id == "" {
		return nil, invalid("task", "required")
	}
	if err := a.checkLogStream(ctx, ls, in.Cluster, id, in.Container); err != nil {
		return nil, err
	}
	entries, err := ls.Query(logs.Query{Task: id, Container: in.Container, Since: in.StartTime, Until: in.EndTime})
	if err != nil {
		return nil, fmt.Errorf("stevedore: logs of task %s: %w", id, err)
	}
	var token *logs.Cursor
	if in.NextToken != "" {
		token = &cur
	}
	start, end := logs.Page(entries, limit, forward, token)
	return &api.GetLogEventsOutput{
		Events:            logEvents(entries[start:end]),
		NextForwardToken:  logs.CursorAt(entries, end).Token(true),
		NextBackwardToken: logs.CursorAt(entries, start).Token(false),
	}, nil
}

// checkLogStream finds task id of the cluster and its container: in the
// store while the task is there, else in the log store's index.
func (a *Actions) checkLogStream(ctx context.Context, ls api.LogStore, clusterName, id, container string) error {
	var containers []string
	err := a.store.View(ctx, func(tx store.ReadTx) error {
		t, err := a.getTask(tx, clusterName, id)
		if err != nil {
			return err
		}
		for _, c := range t.Containers {
			containers = append(containers, c.Name)
		}
		return nil
	})
	switch {
	case errors.Is(err, api.ErrNotFound):
		tl, lerr := ls.Task(id)
		if errors.Is(lerr, logs.ErrNotFound) || (lerr == nil && tl.Labels[api.LogLabelCluster] != clusterName) {
			return &api.UnknownLogStreamError{Cluster: clusterName, Task: id}
		}
		if lerr != nil {
			return fmt.Errorf("stevedore: logs of task %s: %w", id, lerr)
		}
		containers = tl.Containers
	case err != nil:
		return err
	}
	if !slices.Contains(containers, container) {
		return &api.UnknownLogStreamError{Cluster: clusterName, Task: id, Container: container}
	}
	return nil
}

// FilterLogEvents returns the lines of a cluster's tasks, running, stopped
// or forgotten after the task retention, that match the input's filters.
// Orchestrator.FilterLogEvents documents it.
func (a *Actions) FilterLogEvents(ctx context.Context, in api.FilterLogEventsInput) (*api.FilterLogEventsOutput, error) {
	in.Cluster = clusterName(in.Cluster)
	q, err := a.beginLogQuery(in.Limit, in.StartTime, in.EndTime, in.NextToken)
	if err != nil {
		return nil, err
	}
	ls, limit, cur := q.ls, q.limit, q.cur
	if len(in.TaskIDs) > maxLogTaskIDs {
		return nil, invalid("taskIds", "must name at most %d tasks, got %d", maxLogTaskIDs, len(in.TaskIDs))
	}
	match, err := parseFilterPattern(in.FilterPattern)
	if err != nil {
		return nil, err
	}
	ids, err := a.logTasks(ctx, ls, in)
	if err != nil {
		return nil, err
	}
	var entries []logs.Entry
	for _, id := range ids {
		got, err := ls.Query(logs.Query{Task: id, Container: in.Container, Since: in.StartTime, Until: in.EndTime, Match: match.Regexp})
		if err != nil {
			return nil, fmt.Errorf("stevedore: logs of task %s: %w", id, err)
		}
		for _, e := range got {
			if match.Terms(e.Message) {
				entries = append(entries, e)
			}
		}
	}
	slices.SortStableFunc(entries, func(a, b logs.Entry) int {
		return cmp.Or(a.Time.Compare(b.Time), strings.Compare(a.Task, b.Task), strings.Compare(a.Container, b.Container))
	})
	start := cur.Index(entries)
	end := min(start+limit, len(entries))
	out := &api.FilterLogEventsOutput{Events: logEvents(entries[start:end])}
	if end < len(entries) {
		out.NextToken = logs.CursorAt(entries, end).Token(true)
	}
	return out, nil
}

// logTasks returns the IDs of the tasks FilterLogEvents reads: the
// cluster's tasks in the store and those the log store's labels place in
// the cluster, filtered by the input.
func (a *Actions) logTasks(ctx context.Context, ls api.LogStore, in api.FilterLogEventsInput) ([]string, error) {
	var wanted map[string]bool
	if len(in.TaskIDs) > 0 {
		wanted = map[string]bool{}
		for _, id := range in.TaskIDs {
			wanted[lastSegment(id)] = true
		}
	}
	keep := func(id, family, service string) bool {
		return (wanted == nil || wanted[id]) &&
			(in.Family == "" || family == in.Family) &&
			(in.ServiceName == "" || service == in.ServiceName)
	}
	ids := map[string]bool{}
	clusterKnown := false
	err := a.store.View(ctx, func(tx store.ReadTx) error {
		_, err := a.getCluster(tx, in.Cluster)
		if errors.Is(err, api.ErrNotFound) {
			return nil // it may be gone while its tasks' logs remain
		}
		if err != nil {
			return err
		}
		clusterKnown = true
		all, err := store.List[*state.Task](tx, state.KindTasks)
		if err != nil {
			return err
		}
		for _, t := range all {
			if t.ClusterName() == in.Cluster && keep(t.ID(), familyOf(t.TaskDefinitionRef()), t.ServiceName) {
				ids[t.ID()] = true
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	indexed, err := ls.Tasks()
	if err != nil {
		return nil, fmt.Errorf("stevedore: logs: %w", err)
	}
	for _, tl := range indexed {
		if tl.Labels[api.LogLabelCluster] != in.Cluster {
			continue
		}
		clusterKnown = true
		if keep(tl.Task, tl.Labels[api.LogLabelFamily], tl.Labels[api.LogLabelService]) {
			ids[tl.Task] = true
		}
	}
	if !clusterKnown {
		return nil, notFound("cluster", in.Cluster)
	}
	out := make([]string, 0, len(ids))
	for id := range ids {
		out = append(out, id)
	}
	slices.Sort(out)
	return out, nil
}

// logQuery is what both queries check first: the log store, the limit
// (defaulted), the time range and the token.
type logQuery struct {
	ls      api.LogStore
	limit   int
	forward bool // the token's direction
	cur     logs.Cursor
}

func (a *Actions) beginLogQuery(limit int, start, end time.Time, token string) (logQuery, error) {
	var q logQuery
	if err := a.checkOpen(); err != nil {
		return q, err
	}
	ls, ok := a.logs.(api.LogStore)
	if !ok {
		return q, api.ErrLogsUnavailable
	}
	if limit < 0 || limit > api.MaxLogEvents {
		return q, invalid("limit", "must be between 1 and %d, got %d", api.MaxLogEvents, limit)
	}
	if !start.IsZero() && !end.IsZero() && end.Before(start) {
		return q, invalid("endTime", "%s is before startTime %s", end.Format(time.RFC3339Nano), start.Format(time.RFC3339Nano))
	}
	if limit == 0 {
		limit = api.MaxLogEvents
	}
	q.ls, q.limit = ls, limit
	if token != "" {
		var err error
		if q.forward, q.cur, err = parseLogToken(token); err != nil {
			return q, err
		}
	}
	return q, nil
}

func logEvents(entries []logs.Entry) []api.LogEvent {
	out := make([]api.LogEvent, len(entries))
	for i, e := range entries {
		out[i] = api.LogEvent{TaskID: e.Task, Container: e.Container, Stream: e.Stream, Timestamp: e.Time, Message: e.Message}
	}
	return out
}

func lastSegment(s string) string {
	if i := lastSlash(s); i >= 0 {
		return s[i+1:]
	}
	return s
}

// parseFilterPattern parses FilterLogEventsInput.FilterPattern.
func parseFilterPattern(s string) (logs.Pattern, error) {
	p, err := logs.ParsePattern(s)
	if err != nil {
		return p, invalid("filterPattern", "%v", err)
	}
	return p, nil
}

func parseLogToken(tok string) (forward bool, c logs.Cursor, err error) {
	forward, c, err = logs.ParseToken(tok)
	if err != nil {
		return false, c, invalid("nextToken", "not a token of this API: %q", tok)
	}
	return forward, c, nil
}

// AgentLogs is the log sink of an instance's agent: with a LogStore, each
// task's logs get labelled with its cluster, family and service when its
// first container asks for writers.
func (a *Actions) AgentLogs() agent.LogSink {
	ls, ok := a.logs.(api.LogStore)
	if !ok {
		return a.logs
	}
	return logs.NewLabeller(ls, a.logLabels, func(taskID string, err error) {
		// The logs are still written; only queries by cluster, family or
		// service will miss them once the task is forgotten.
		a.log.Warn("labelling a task's logs", "task", taskID, "err", err)
	})
}

// logLabels are the labels of a task's logs.
func (a *Actions) logLabels(taskID string) (map[string]string, error) {
	var labels map[string]string
	err := a.store.View(a.ctx, func(tx store.ReadTx) error {
		t, err := store.Get[*state.Task](tx, state.KindTasks, taskID)
		if err != nil {
			return err
		}
		labels = map[string]string{api.LogLabelCluster: t.ClusterName(), api.LogLabelFamily: familyOf(t.TaskDefinitionRef())}
		if t.ServiceName != "" {
			labels[api.LogLabelService] = t.ServiceName
		}
		return nil
	})
	return labels, err
}
