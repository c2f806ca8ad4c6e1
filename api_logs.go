package stevedore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/logs"
	"github.com/stevedore-io/stevedore/store"
)

// Log queries: the Orchestrator's counterpart of CloudWatch Logs'
// GetLogEvents and FilterLogEvents, answered from the log sink given with
// WithLogSink when it can be queried (a *logs.Store).
//
// Logs and tasks are kept for different times. A stopped task is forgotten
// after the task retention (WithTaskRetention); its logs stay in the log
// store until they are removed from it (logs.Store.Remove), as CloudWatch
// keeps a log group's streams after ECS forgets the task. So that a
// forgotten task's logs can still be found, the Orchestrator labels each
// task's logs with its cluster, family and service when the task's first
// container is created (logs.Store.SetTaskLabels): the queries read a task
// from the store while it is there and from those labels afterwards.

// ErrLogsUnavailable means the Orchestrator has no log sink that can be
// queried: none was given with WithLogSink, or it is not a LogStore.
var ErrLogsUnavailable = errors.New("stevedore: no queryable log sink")

// LogStore is a LogSink that can be queried; *logs.Store is one.
type LogStore interface {
	LogSink
	Query(logs.Query) ([]logs.Entry, error)
	SetTaskLabels(taskID string, labels map[string]string) error
	Task(taskID string) (logs.TaskLog, error)
	Tasks() ([]logs.TaskLog, error)
}

// Labels the Orchestrator puts on each task's logs.
const (
	LogLabelCluster = "cluster"
	LogLabelFamily  = "family"
	LogLabelService = "service"
)

// MaxLogEvents is the most events one GetLogEvents or FilterLogEvents call
// returns, and its default limit (as CloudWatch Logs).
const MaxLogEvents = 10000

// maxLogTaskIDs bounds FilterLogEventsInput.TaskIDs (CloudWatch's
// logStreamNames takes at most 100).
const maxLogTaskIDs = 100

// LogEvent is one line of a container's output.
type LogEvent struct {
	TaskID    string
	Container string
	Stream    logs.Stream
	Timestamp time.Time
	Message   string
}

// UnknownLogStreamError is a GetLogEvents for a task the Orchestrator and
// its log store do not know, or for a container the task does not have. It
// matches ErrNotFound.
type UnknownLogStreamError struct {
	Cluster, Task string
	// Container is set when the task is known but the container is not.
	Container string
}

// Error says which task or container has no log.
func (e *UnknownLogStreamError) Error() string {
	if e.Container != "" {
		return fmt.Sprintf("%v: task %s/%s has no container %q", ErrNotFound, e.Cluster, e.Task, e.Container)
	}
	return fmt.Sprintf("%v: task %q in cluster %q (neither running nor in the logs)", ErrNotFound, e.Task, e.Cluster)
}

// Unwrap makes errors.Is(err, ErrNotFound) true.
func (e *UnknownLogStreamError) Unwrap() error { return ErrNotFound }

// GetLogEventsInput reads one container's log, as CloudWatch GetLogEvents
// reads one stream.
type GetLogEventsInput struct {
	Cluster string
	// Task is the task's ID or ARN, Container a container's name.
	Task      string
	Container string
	// StartTime (inclusive) and EndTime (exclusive) bound the events'
	// times; zero means unbounded.
	StartTime, EndTime time.Time
	// Limit is 1 to MaxLogEvents (0 means MaxLogEvents).
	Limit int
	// StartFromHead reads from the oldest event onwards; by default the
	// newest Limit events are returned. A NextToken decides the direction
	// instead.
	StartFromHead bool
	// NextToken is a NextForwardToken or NextBackwardToken of an earlier
	// call.
	NextToken string
}

// GetLogEventsOutput holds events oldest first and the tokens to read on.
// As in CloudWatch, the tokens are always set: a call that reaches the end
// in its direction returns the token it was given, and a forward token
// later returns the events written since.
type GetLogEventsOutput struct {
	Events            []LogEvent
	NextForwardToken  string
	NextBackwardToken string
}

// GetLogEvents returns the output of one container of a task, running or
// stopped, including a task forgotten after the task retention while its
// logs remain in the log store.
func (o *Orchestrator) GetLogEvents(ctx context.Context, in GetLogEventsInput) (*GetLogEventsOutput, error) {
	in.Cluster = clusterName(in.Cluster)
	q, err := o.beginLogQuery(in.Limit, in.StartTime, in.EndTime, in.NextToken)
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
	if err := o.checkLogStream(ctx, ls, in.Cluster, id, in.Container); err != nil {
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
	return &GetLogEventsOutput{
		Events:            logEvents(entries[start:end]),
		NextForwardToken:  logs.CursorAt(entries, end).Token(true),
		NextBackwardToken: logs.CursorAt(entries, start).Token(false),
	}, nil
}

// checkLogStream finds task id of the cluster and its container: in the
// store while the task is there, else in the log store's index.
func (o *Orchestrator) checkLogStream(ctx context.Context, ls LogStore, clusterName, id, container string) error {
	var containers []string
	err := o.store.View(ctx, func(tx store.ReadTx) error {
		t, err := o.getTask(tx, clusterName, id)
		if err != nil {
			return err
		}
		for _, c := range t.Containers {
			containers = append(containers, c.Name)
		}
		return nil
	})
	switch {
	case errors.Is(err, ErrNotFound):
		tl, lerr := ls.Task(id)
		if errors.Is(lerr, logs.ErrNotFound) || (lerr == nil && tl.Labels[LogLabelCluster] != clusterName) {
			return &UnknownLogStreamError{Cluster: clusterName, Task: id}
		}
		if lerr != nil {
			return fmt.Errorf("stevedore: logs of task %s: %w", id, lerr)
		}
		containers = tl.Containers
	case err != nil:
		return err
	}
	if !slices.Contains(containers, container) {
		return &UnknownLogStreamError{Cluster: clusterName, Task: id, Container: container}
	}
	return nil
}

// FilterLogEventsInput searches the logs of a cluster's tasks, as
// CloudWatch FilterLogEvents searches a log group. The task filters combine:
// a task must match all that are set.
type FilterLogEventsInput struct {
	Cluster string
	// TaskIDs keeps these tasks (IDs or ARNs, at most 100).
	TaskIDs []string
	// ServiceName keeps the tasks of a service, Family those of a task
	// definition family.
	ServiceName string
	Family      string
	// Container keeps one container's output.
	Container string
	// FilterPattern keeps the lines that match it, as CloudWatch's
	// patterns for unstructured logs: "ERROR timeout" keeps lines holding
	// both words, "\"connection refused\"" the quoted phrase, and
	// "%^GET /api/[0-9]+%" lines matching the regular expression between
	// the percent signs. Empty keeps every line.
	FilterPattern string
	// StartTime (inclusive) and EndTime (exclusive) bound the events'
	// times; zero means unbounded.
	StartTime, EndTime time.Time
	// Limit is 1 to MaxLogEvents (0 means MaxLogEvents).
	Limit int
	// NextToken continues an earlier call.
	NextToken string
}

// FilterLogEventsOutput holds matching events oldest first (ties in task
// and container order) and, when there are more, the token to get them.
type FilterLogEventsOutput struct {
	Events    []LogEvent
	NextToken string
}

// FilterLogEvents returns the lines of a cluster's tasks, running, stopped
// or forgotten after the task retention, that match the input's filters.
// Each call reads the selected tasks' log files in full (the local store
// keeps no index by time): narrow the tasks for large clusters.
func (o *Orchestrator) FilterLogEvents(ctx context.Context, in FilterLogEventsInput) (*FilterLogEventsOutput, error) {
	in.Cluster = clusterName(in.Cluster)
	q, err := o.beginLogQuery(in.Limit, in.StartTime, in.EndTime, in.NextToken)
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
	ids, err := o.logTasks(ctx, ls, in)
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
	out := &FilterLogEventsOutput{Events: logEvents(entries[start:end])}
	if end < len(entries) {
		out.NextToken = logs.CursorAt(entries, end).Token(true)
	}
	return out, nil
}

// logTasks returns the IDs of the tasks FilterLogEvents reads: the
// cluster's tasks in the store and those the log store's labels place in
// the cluster, filtered by the input.
func (o *Orchestrator) logTasks(ctx context.Context, ls LogStore, in FilterLogEventsInput) ([]string, error) {
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
	err := o.store.View(ctx, func(tx store.ReadTx) error {
		_, err := o.getCluster(tx, in.Cluster)
		if errors.Is(err, ErrNotFound) {
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
		if tl.Labels[LogLabelCluster] != in.Cluster {
			continue
		}
		clusterKnown = true
		if keep(tl.Task, tl.Labels[LogLabelFamily], tl.Labels[LogLabelService]) {
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
	ls      LogStore
	limit   int
	forward bool // the token's direction
	cur     logs.Cursor
}

func (o *Orchestrator) beginLogQuery(limit int, start, end time.Time, token string) (logQuery, error) {
	var q logQuery
	if err := o.checkOpen(); err != nil {
		return q, err
	}
	ls, ok := o.logs.(LogStore)
	if !ok {
		return q, ErrLogsUnavailable
	}
	if limit < 0 || limit > MaxLogEvents {
		return q, invalid("limit", "must be between 1 and %d, got %d", MaxLogEvents, limit)
	}
	if !start.IsZero() && !end.IsZero() && end.Before(start) {
		return q, invalid("endTime", "%s is before startTime %s", end.Format(time.RFC3339Nano), start.Format(time.RFC3339Nano))
	}
	if limit == 0 {
		limit = MaxLogEvents
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

func logEvents(entries []logs.Entry) []LogEvent {
	out := make([]LogEvent, len(entries))
	for i, e := range entries {
		out[i] = LogEvent{TaskID: e.Task, Container: e.Container, Stream: e.Stream, Timestamp: e.Time, Message: e.Message}
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

// agentLogs is the log sink of an instance's agent: with a LogStore, each
// task's logs get labelled with its cluster, family and service when its
// first container asks for writers.
func (o *Orchestrator) agentLogs() LogSink {
	ls, ok := o.logs.(LogStore)
	if !ok {
		return o.logs
	}
	return logs.NewLabeller(ls, o.logLabels, func(taskID string, err error) {
		// The logs are still written; only queries by cluster, family or
		// service will miss them once the task is forgotten.
		o.log.Warn("labelling a task's logs", "task", taskID, "err", err)
	})
}

// logLabels are the labels of a task's logs.
func (o *Orchestrator) logLabels(taskID string) (map[string]string, error) {
	var labels map[string]string
	err := o.store.View(o.ctx, func(tx store.ReadTx) error {
		t, err := store.Get[*state.Task](tx, state.KindTasks, taskID)
		if err != nil {
			return err
		}
		labels = map[string]string{LogLabelCluster: t.ClusterName(), LogLabelFamily: familyOf(t.TaskDefinitionRef())}
		if t.ServiceName != "" {
			labels[LogLabelService] = t.ServiceName
		}
		return nil
	})
	return labels, err
}
