package api

import (
	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/placement"
	"github.com/stevedore-io/stevedore/task"
)

// DefaultTaskPlacement is the placement strategy of RunTask calls that
// name none: random, as in ECS. An Orchestrator's
// WithDefaultPlacementStrategy replaces it.
var DefaultTaskPlacement = []placement.StrategySpec{placement.Random()}

// RunTaskInput asks for standalone tasks, as ECS RunTask.
type RunTaskInput struct {
	Cluster string
	// TaskDefinition is "family", "family:N" or an ARN.
	TaskDefinition string
	// Count is 1-10 (0 means 1).
	Count int
	// Group defaults to "family:<family>".
	Group     string
	StartedBy string
	// PlacementConstraints add to the task definition's.
	PlacementConstraints []placement.Constraint
	// PlacementStrategy defaults to DefaultTaskPlacement (random), or to
	// the Orchestrator's WithDefaultPlacementStrategy. Its types are the
	// built-in ones or those registered on the placement scheduler.
	PlacementStrategy        []placement.StrategySpec
	CapacityProviderStrategy cluster.CapacityProviderStrategy
	Overrides                *task.TaskOverride
	// NetworkConfiguration puts the tasks in security groups (awsvpc task
	// definitions only); without it their inbound traffic is not filtered.
	NetworkConfiguration *task.NetworkConfiguration
	// Tags are the tasks' tags (see TagResource).
	Tags []Tag
}

// RunTaskOutput lists the tasks started and those that could not be placed.
type RunTaskOutput struct {
	Tasks    []*task.Task
	Failures []Failure
}

// MaxRunTaskCount is the largest count of one RunTask call.
const MaxRunTaskCount = 10

// Failure is a task that could not be run, as ECS reports it: the reason is
// in placement's terms ("RESOURCE:MEMORY", ...) with the full explanation
// in Detail.
type Failure struct {
	Arn    string
	Reason string
	Detail string
}

// StartTaskInput starts tasks on chosen instances, as ECS StartTask.
type StartTaskInput struct {
	Cluster            string
	TaskDefinition     string
	ContainerInstances []string
	Group              string
	StartedBy          string
	Overrides          *task.TaskOverride
	// NetworkConfiguration is as in RunTaskInput.
	NetworkConfiguration *task.NetworkConfiguration
}

// StartTaskOutput is the tasks started and the instances that could not
// take one, as ECS StartTask.
type StartTaskOutput struct {
	Tasks    []*task.Task
	Failures []Failure
}

// StopTaskInput names a task to stop, as ECS StopTask.
type StopTaskInput struct {
	// Cluster is a name or ARN; empty means DefaultCluster.
	Cluster string
	// Task is the task's ID or ARN.
	Task string
	// Reason is kept as the task's stoppedReason ("Task stopped by user"
	// when empty).
	Reason string
}

// StopTaskOutput is the task as it is once asked to stop.
type StopTaskOutput struct {
	Task *task.Task
}

// DescribeTasksInput names tasks of a cluster, as ECS DescribeTasks.
type DescribeTasksInput struct {
	// Cluster is a name or ARN; empty means DefaultCluster.
	Cluster string
	// Tasks are 1 to MaxDescribeTasks IDs or ARNs.
	Tasks []string
}

// DescribeTasksOutput is the tasks found, and a Failure (reason "MISSING")
// for each one that is not in the cluster (or was forgotten after the task
// retention).
type DescribeTasksOutput struct {
	Tasks    []*task.Task
	Failures []Failure
}

// MaxDescribeTasks is the most tasks one DescribeTasks names.
const MaxDescribeTasks = 100

// ListTasksInput filters and pages ListTasks, as ECS ListTasks. Empty
// filters match all.
type ListTasksInput struct {
	// Cluster is a name or ARN; empty means DefaultCluster.
	Cluster string
	Family  string
	// DesiredStatus is RUNNING (the default, as in ECS) or STOPPED.
	DesiredStatus task.Status
	StartedBy     string
	// ServiceName and ContainerInstance take names, IDs or ARNs.
	ServiceName       string
	ContainerInstance string
	// MaxResults is 1 to 100 (0 means 100).
	MaxResults int
	// NextToken continues a previous call's listing.
	NextToken string
}

// ListTasksOutput is a page of task ARNs, sorted by task ID; NextToken is
// empty on the last page (NewListTasksPaginator walks every page).
type ListTasksOutput struct {
	TaskArns  []string
	NextToken string
}
