package stevedore

import (
	"context"

	"github.com/stevedore-io/stevedore/api"
)

// DefaultTaskPlacement is api.DefaultTaskPlacement.
var DefaultTaskPlacement = api.DefaultTaskPlacement

// RunTaskInput asks for standalone tasks, as ECS RunTask.
type RunTaskInput = api.RunTaskInput

// RunTaskOutput lists the tasks started and those that could not be placed.
type RunTaskOutput = api.RunTaskOutput

// Failure is api.Failure.
type Failure = api.Failure

// StartTaskInput starts tasks on chosen instances, as ECS StartTask.
type StartTaskInput = api.StartTaskInput

// StartTaskOutput is the tasks started and the instances that could not take one, as ECS StartTask.
type StartTaskOutput = api.StartTaskOutput

// StopTaskInput names a task to stop, as ECS StopTask.
type StopTaskInput = api.StopTaskInput

// StopTaskOutput is the task as it is once asked to stop.
type StopTaskOutput = api.StopTaskOutput

// DescribeTasksInput names tasks of a cluster, as ECS DescribeTasks.
type DescribeTasksInput = api.DescribeTasksInput

// DescribeTasksOutput is api.DescribeTasksOutput.
type DescribeTasksOutput = api.DescribeTasksOutput

// MaxDescribeTasks is the most tasks one DescribeTasks names.
const MaxDescribeTasks = api.MaxDescribeTasks

// ListTasksInput filters and pages ListTasks, as ECS ListTasks.
type ListTasksInput = api.ListTasksInput

// ListTasksOutput is api.ListTasksOutput.
type ListTasksOutput = api.ListTasksOutput

// RunTask places and starts Count tasks of a task definition. Tasks that
// cannot be placed are reported in Failures (not as an error), as ECS does.
func (o *Orchestrator) RunTask(ctx context.Context, in *RunTaskInput) (*RunTaskOutput, error) {
	return o.actions.RunTask(ctx, value(in))
}

// StartTask starts one task on each of the named container instances,
// without placement strategies (resources, ports and status still apply).
func (o *Orchestrator) StartTask(ctx context.Context, in *StartTaskInput) (*StartTaskOutput, error) {
	return o.actions.StartTask(ctx, value(in))
}

// StopTask asks a task to stop: its containers get SIGTERM, then SIGKILL
// after their stopTimeout. Stopping a stopped task is not an error.
func (o *Orchestrator) StopTask(ctx context.Context, in *StopTaskInput) (*StopTaskOutput, error) {
	return o.actions.StopTask(ctx, value(in))
}

// DescribeTasks describes tasks. It fails with ErrNotFound when the
// cluster does not exist; a task that does not is reported in Failures.
func (o *Orchestrator) DescribeTasks(ctx context.Context, in *DescribeTasksInput) (*DescribeTasksOutput, error) {
	return o.actions.DescribeTasks(ctx, value(in))
}

// ListTasks lists the tasks that match the filters.
func (o *Orchestrator) ListTasks(ctx context.Context, in *ListTasksInput) (*ListTasksOutput, error) {
	return o.actions.ListTasks(ctx, value(in))
}

// ListTasksPaginator walks the pages of ListTasks, as aws-sdk-go-v2's
// paginators do.
type ListTasksPaginator struct {
	o     *Orchestrator
	in    ListTasksInput
	first bool
}

// NewListTasksPaginator returns a paginator of ListTasks from in.
func NewListTasksPaginator(o *Orchestrator, in *ListTasksInput) *ListTasksPaginator {
	return &ListTasksPaginator{o: o, in: value(in), first: true}
}

// HasMorePages reports whether NextPage has a page to return.
func (p *ListTasksPaginator) HasMorePages() bool { return p.first || p.in.NextToken != "" }

// NextPage returns the next page.
func (p *ListTasksPaginator) NextPage(ctx context.Context) (*ListTasksOutput, error) {
	if !p.HasMorePages() {
		return nil, invalid("nextToken", "no more pages")
	}
	out, err := p.o.ListTasks(ctx, &p.in)
	if err != nil {
		return nil, err
	}
	p.first, p.in.NextToken = false, out.NextToken
	return out, nil
}

// AllTaskArns is every task ARN that ListTasks lists for in, page after
// page.
func (o *Orchestrator) AllTaskArns(ctx context.Context, in *ListTasksInput) ([]string, error) {
	return o.actions.AllTaskArns(ctx, value(in))
}
