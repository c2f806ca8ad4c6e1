package api

import (
	"errors"
	"fmt"
	"time"

	"github.com/stevedore-io/stevedore/agent"
	"github.com/stevedore-io/stevedore/logs"
)

// ErrLogsUnavailable means the Orchestrator has no log sink that can be
// queried: none was given with WithLogSink, or it is not a LogStore.
var ErrLogsUnavailable = errors.New("stevedore: no queryable log sink")

// LogStore is a LogSink that can be queried; *logs.Store is one.
type LogStore interface {
	agent.LogSink
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
