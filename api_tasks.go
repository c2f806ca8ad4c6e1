package stevedore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/internal/launch"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/placement"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/task"
)

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
	// PlacementStrategy defaults to random.
	PlacementStrategy        []placement.StrategySpec
	CapacityProviderStrategy cluster.CapacityProviderStrategy
	Overrides                *task.TaskOverride
	// NetworkConfiguration puts the tasks in security groups (awsvpc task
	// definitions only); without it their inbound traffic is not filtered.
	NetworkConfiguration *task.NetworkConfiguration
	// Tags are the tasks' tags (see TagResource).
	Tags []Tag
}

// Failure is a task that could not be run, as ECS reports it: the reason is
// in placement's terms ("RESOURCE:MEMORY", ...) with the full explanation
// in Detail.
type Failure struct {
	Arn    string
	Reason string
	Detail string
}

// RunTaskOutput lists the tasks started and those that could not be placed.
type RunTaskOutput struct {
	Tasks    []*task.Task
	Failures []Failure
}

// RunTask places and starts Count tasks of a task definition. Tasks that
// cannot be placed are reported in Failures (not as an error), as ECS does.
func (o *Orchestrator) RunTask(ctx context.Context, in RunTaskInput) (*RunTaskOutput, error) {
	if err := o.checkOpen(); err != nil {
		return nil, err
	}
	in.Cluster = clusterName(in.Cluster)
	count := in.Count
	if count == 0 {
		count = 1
	}
	if count < 1 || count > MaxRunTaskCount {
		return nil, invalid("count", "must be between 1 and %d, got %d", MaxRunTaskCount, in.Count)
	}
	if err := validTags(in.Tags); err != nil {
		return nil, err
	}
	if len(in.PlacementStrategy) > placement.MaxStrategies {
		return nil, invalid("placementStrategy", "must have at most %d strategies", placement.MaxStrategies)
	}
	strategies := in.PlacementStrategy
	if len(strategies) == 0 {
		strategies = []placement.StrategySpec{placement.Random()}
	}
	return o.launchTasks(ctx, in.Cluster, in.TaskDefinition, in.Tags, func(def *task.TaskDefinition) *launch.Request {
		group := in.Group
		if group == "" {
			group = "family:" + def.Family
		}
		return &launch.Request{
			Cluster: in.Cluster, Def: def, Overrides: in.Overrides, Count: count, Group: group,
			StartedBy: in.StartedBy, Constraints: in.PlacementConstraints, Strategies: strategies,
			Providers: in.CapacityProviderStrategy, Network: in.NetworkConfiguration,
		}
	})
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

// StartTask starts one task on each of the named container instances,
// without placement strategies (resources, ports and status still apply).
func (o *Orchestrator) StartTask(ctx context.Context, in StartTaskInput) (*RunTaskOutput, error) {
	if err := o.checkOpen(); err != nil {
		return nil, err
	}
	in.Cluster = clusterName(in.Cluster)
	if len(in.ContainerInstances) < 1 || len(in.ContainerInstances) > MaxRunTaskCount {
		return nil, invalid("containerInstances", "must name 1 to %d instances", MaxRunTaskCount)
	}
	out := &RunTaskOutput{}
	for _, arg := range in.ContainerInstances {
		id := lastSegment(arg)
		res, err := o.launchTasks(ctx, in.Cluster, in.TaskDefinition, nil, func(def *task.TaskDefinition) *launch.Request {
			group := in.Group
			if group == "" {
				group = "family:" + def.Family
			}
			return &launch.Request{Cluster: in.Cluster, Def: def, Overrides: in.Overrides, Count: 1, Group: group,
				StartedBy: in.StartedBy, Instances: []string{id}, Network: in.NetworkConfiguration}
		})
		if err != nil {
			return nil, err
		}
		out.Tasks = append(out.Tasks, res.Tasks...)
		for _, f := range res.Failures {
			f.Arn = o.ContainerInstanceARN(in.Cluster, id)
			out.Failures = append(out.Failures, f)
		}
	}
	return out, nil
}

func (o *Orchestrator) launchTasks(ctx context.Context, clusterName, ref string, tags []Tag, mk func(*task.TaskDefinition) *launch.Request) (*RunTaskOutput, error) {
	out := &RunTaskOutput{}
	err := o.store.Update(ctx, func(tx store.Tx) error {
		out.Tasks, out.Failures = nil, nil
		c, err := o.getCluster(tx, clusterName)
		if err != nil {
			return err
		}
		d, err := o.getTaskDefinition(tx, ref)
		if err != nil {
			return err
		}
		if d.Status != task.DefinitionActive {
			return invalid("taskDefinition", "%s is INACTIVE", d.Ref())
		}
		if err := o.checkTaskPolicy(c, d.TaskDefinition); err != nil {
			return err
		}
		l := mk(d.TaskDefinition)
		if l.Overrides != nil {
			if _, err := l.Overrides.Apply(l.Def); err != nil {
				return fmt.Errorf("%w: overrides: %w", ErrInvalid, err)
			}
		}
		created, err := o.launcher.Place(tx, l, nil, nil)
		var noFit *placement.NoFitError
		if errors.As(err, &noFit) {
			reason := "RESOURCE"
			if len(noFit.Reasons) > 0 {
				reason = string(noFit.Reasons[0].Reason)
			}
			for range noFit.Requested - noFit.Placed {
				out.Failures = append(out.Failures, Failure{Reason: reason, Detail: noFit.Error()})
			}
		} else if err != nil {
			return err
		}
		for _, t := range created {
			if len(tags) > 0 {
				next := t.Copy()
				next.Tags = slices.Clone(tags)
				if err := tx.Update(next); err != nil {
					return err
				}
				t = next
			}
			out.Tasks = append(out.Tasks, o.describeTask(t))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
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

// StopTask asks a task to stop: its containers get SIGTERM, then SIGKILL
// after their stopTimeout. Stopping a stopped task is not an error.
func (o *Orchestrator) StopTask(ctx context.Context, in StopTaskInput) (*StopTaskOutput, error) {
	clusterName, taskID, reason := clusterName(in.Cluster), in.Task, in.Reason
	if taskID == "" {
		return nil, invalid("task", "is required")
	}
	var out *task.Task
	err := o.store.Update(ctx, func(tx store.Tx) error {
		t, err := o.getTask(tx, clusterName, taskID)
		if err != nil {
			return err
		}
		next := t.Copy()
		if reason == "" {
			reason = "Task stopped by user"
		}
		if next.Stop(task.UserInitiated, reason, o.now()) {
			if err := tx.Update(next); err != nil {
				return err
			}
		}
		out = o.describeTask(next)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &StopTaskOutput{Task: out}, nil
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

// DescribeTasks describes tasks. It fails with ErrNotFound when the
// cluster does not exist; a task that does not is reported in Failures.
func (o *Orchestrator) DescribeTasks(ctx context.Context, in DescribeTasksInput) (*DescribeTasksOutput, error) {
	clusterName := clusterName(in.Cluster)
	if len(in.Tasks) == 0 || len(in.Tasks) > MaxDescribeTasks {
		return nil, invalid("tasks", "must name 1 to %d tasks, got %d", MaxDescribeTasks, len(in.Tasks))
	}
	out := &DescribeTasksOutput{}
	err := o.store.View(ctx, func(tx store.ReadTx) error {
		out.Tasks, out.Failures = nil, nil
		if _, err := o.getCluster(tx, clusterName); err != nil {
			return err
		}
		for _, id := range in.Tasks {
			t, err := o.getTask(tx, clusterName, id)
			if errors.Is(err, ErrNotFound) {
				out.Failures = append(out.Failures, missing(o.TaskARN(clusterName, id)))
				continue
			}
			if err != nil {
				return err
			}
			out.Tasks = append(out.Tasks, o.describeTask(t))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

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

// ListTasks lists the tasks that match the filters.
func (o *Orchestrator) ListTasks(ctx context.Context, in ListTasksInput) (*ListTasksOutput, error) {
	in.Cluster = clusterName(in.Cluster)
	desired := in.DesiredStatus
	if desired == "" {
		desired = task.Running
	}
	if desired != task.Running && desired != task.Stopped {
		return nil, invalid("desiredStatus", "must be RUNNING or STOPPED, got %q", desired)
	}
	service, instance := lastSegment(in.ServiceName), lastSegment(in.ContainerInstance)
	var ids []string
	err := o.store.View(ctx, func(tx store.ReadTx) error {
		ids = nil
		if _, err := o.getCluster(tx, in.Cluster); err != nil {
			return err
		}
		all, err := store.List[*state.Task](tx, state.KindTasks)
		if err != nil {
			return err
		}
		for _, t := range all {
			switch {
			case t.ClusterName() != in.Cluster, t.DesiredStatus != desired,
				in.Family != "" && familyOf(t.TaskDefinitionRef()) != in.Family,
				in.StartedBy != "" && t.StartedBy != in.StartedBy,
				service != "" && t.ServiceName != service,
				instance != "" && t.ContainerInstanceID() != instance:
				continue
			}
			ids = append(ids, t.ID())
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	page, next, err := paginate(ids, in.MaxResults, 100, in.NextToken)
	if err != nil {
		return nil, err
	}
	out := &ListTasksOutput{NextToken: next, TaskArns: make([]string, len(page))}
	for i, id := range page {
		out.TaskArns[i] = o.TaskARN(in.Cluster, id)
	}
	return out, nil
}

// ListTasksPaginator walks the pages of ListTasks, as aws-sdk-go-v2's
// paginators do.
type ListTasksPaginator struct {
	o     *Orchestrator
	in    ListTasksInput
	first bool
}

// NewListTasksPaginator returns a paginator of ListTasks from in.
func NewListTasksPaginator(o *Orchestrator, in ListTasksInput) *ListTasksPaginator {
	return &ListTasksPaginator{o: o, in: in, first: true}
}

// HasMorePages reports whether NextPage has a page to return.
func (p *ListTasksPaginator) HasMorePages() bool { return p.first || p.in.NextToken != "" }

// NextPage returns the next page.
func (p *ListTasksPaginator) NextPage(ctx context.Context) (*ListTasksOutput, error) {
	if !p.HasMorePages() {
		return nil, invalid("nextToken", "no more pages")
	}
	out, err := p.o.ListTasks(ctx, p.in)
	if err != nil {
		return nil, err
	}
	p.first, p.in.NextToken = false, out.NextToken
	return out, nil
}

// AllTaskArns is every task ARN that ListTasks lists for in, page after
// page.
func (o *Orchestrator) AllTaskArns(ctx context.Context, in ListTasksInput) ([]string, error) {
	var arns []string
	for p := NewListTasksPaginator(o, in); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		arns = append(arns, page.TaskArns...)
	}
	return arns, nil
}

func familyOf(ref string) string {
	f, _, _ := splitRef(ref)
	return f
}

func (o *Orchestrator) getTask(tx store.ReadTx, clusterName, id string) (*state.Task, error) {
	if i := lastSlash(id); i >= 0 {
		id = id[i+1:]
	}
	t, err := store.Get[*state.Task](tx, state.KindTasks, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && t.ClusterName() != clusterName) {
		return nil, notFound("task", clusterName+"/"+id)
	}
	if err != nil {
		return nil, fmt.Errorf("task %s: %w", id, err)
	}
	return t, nil
}

func lastSlash(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '/' {
			return i
		}
	}
	return -1
}

// describeTaskNetwork is the stored task with its network attachment in
// ECS's form.
func describeTaskNetwork(t *state.Task) *task.Task {
	out := t.Task.Clone()
	if n := t.Network; n != nil && n.Address.IsValid() {
		out.Attachments = []task.Attachment{{
			ID:     "eni-" + t.ID(),
			Type:   "ElasticNetworkInterface",
			Status: "ATTACHED",
			Details: []task.KeyValuePair{
				{Name: "privateIPv4Address", Value: n.Address.Addr().String()},
				{Name: "subnetPrefixLength", Value: strconv.Itoa(n.Address.Bits())},
				{Name: "gateway", Value: n.Gateway.String()},
				{Name: "macAddress", Value: n.MAC},
				{Name: "networkMode", Value: string(n.Mode)},
			},
		}}
	}
	return out
}
