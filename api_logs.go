package stevedore

import (
	"context"

	"github.com/stevedore-io/stevedore/api"
)

// ErrLogsUnavailable is api.ErrLogsUnavailable.
var ErrLogsUnavailable = api.ErrLogsUnavailable

// LogStore is a LogSink that can be queried; *logs.Store is one.
type LogStore = api.LogStore

// LogLabelCluster is api.LogLabelCluster.
const LogLabelCluster = api.LogLabelCluster

// LogLabelFamily is api.LogLabelFamily.
const LogLabelFamily = api.LogLabelFamily

// LogLabelService is api.LogLabelService.
const LogLabelService = api.LogLabelService

// MaxLogEvents is api.MaxLogEvents.
const MaxLogEvents = api.MaxLogEvents

// LogEvent is one line of a container's output.
type LogEvent = api.LogEvent

// UnknownLogStreamError is api.UnknownLogStreamError.
type UnknownLogStreamError = api.UnknownLogStreamError

// GetLogEventsInput reads one container's log, as CloudWatch GetLogEvents reads one stream.
type GetLogEventsInput = api.GetLogEventsInput

// GetLogEventsOutput holds events oldest first and the tokens to read on.
type GetLogEventsOutput = api.GetLogEventsOutput

// FilterLogEventsInput is api.FilterLogEventsInput.
type FilterLogEventsInput = api.FilterLogEventsInput

// FilterLogEventsOutput is api.FilterLogEventsOutput.
type FilterLogEventsOutput = api.FilterLogEventsOutput

// GetLogEvents returns the output of one container of a task, running or
// stopped, including a task forgotten after the task retention while its
// logs remain in the log store.
func (o *Orchestrator) GetLogEvents(ctx context.Context, in *GetLogEventsInput) (*GetLogEventsOutput, error) {
	return o.actions.GetLogEvents(ctx, value(in))
}

// FilterLogEvents returns the lines of a cluster's tasks, running, stopped
// or forgotten after the task retention, that match the input's filters.
// Each call reads the selected tasks' log files in full (the local store
// keeps no index by time): narrow the tasks for large clusters.
func (o *Orchestrator) FilterLogEvents(ctx context.Context, in *FilterLogEventsInput) (*FilterLogEventsOutput, error) {
	return o.actions.FilterLogEvents(ctx, value(in))
}
