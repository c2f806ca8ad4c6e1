package actions

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/stevedore-io/stevedore/api"
	"github.com/stevedore-io/stevedore/internal/launch"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/placement"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/task"
)

// RunTask places and starts Count tasks of a task definition. Tasks that
// cannot be placed are reported in Failures (not as an error), as ECS does.
func (a *Actions) RunTask(ctx context.Context, in api.RunTaskInput) (*api.RunTaskOutput, error) {
	if err := a.checkOpen(); err != nil {
		return nil, err
	}
	in.Cluster = clusterName(in.Cluster)
	count := in.Count
	if count == 0 {
		count = 1
	}
	if count < 1 || count > api.MaxRunTaskCount {
		return nil, invalid("count", "must be between 1 and %d, got %d", api.MaxRunTaskCount, in.Count)
	}
	if err := validTags(in.Tags); err != nil {
		return nil, err
	}
	if len(in.PlacementStrategy) > placement.MaxStrategies {
		return nil, invalid("placementStrategy", "must have at most %d strategies", placement.MaxStrategies)
	}
	// Checked against the scheduler (its custom types) before anything
	// is read: a bad request is refused whatever the cluster holds.
	sched := a.launcher.Scheduler()
	if err := sched.CheckStrategies(in.PlacementStrategy); err != nil {
		return nil, err
	}
	if err := sched.CheckConstraints(in.PlacementConstraints); err != nil {
		return nil, err
	}
	strategies := in.PlacementStrategy
	if len(strategies) == 0 {
		strategies = a.launcher.DefaultStrategies(api.DefaultTaskPlacement)
	}
	return a.launchTasks(ctx, in.Cluster, in.TaskDefinition, in.Tags, func(def *task.TaskDefinition) *launch.Request {
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

// StartTask starts one task on each of the named container instances,
// without placement strategies (resources, ports and status still apply).
func (a *Actions) StartTask(ctx context.Context, in api.StartTaskInput) (*api.StartTaskOutput, error) {
	if err := a.checkOpen(); err != nil {
		return nil, err
	}
	in.Cluster = clusterName(in.Cluster)
	if len(in.ContainerInstances) < 1 || len(in.ContainerInstances) > api.MaxRunTaskCount {
		return nil, invalid("containerInstances", "must name 1 to %d instances", api.MaxRunTaskCount)
	}
	out := &api.RunTaskOutput{}
	for _, arg := range in.ContainerInstances {
		id := lastSegment(arg)
		res, err := a.launchTasks(ctx, in.Cluster, in.TaskDefinition, nil, func(def *task.TaskDefinition) *launch.Request {
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
			f.Arn = a.ContainerInstanceARN(in.Cluster, id)
			out.Failures = append(out.Failures, f)
		}
	}
	return &api.StartTaskOutput{Tasks: out.Tasks, Failures: out.Failures}, nil
}

func (a *Actions) launchTasks(ctx context.Context, clusterName, ref string, tags []api.Tag, mk func(*task.TaskDefinition) *launch.Request) (*api.RunTaskOutput, error) {
	out := &api.RunTaskOutput{}
	err := a.store.Update(ctx, func(tx store.Tx) error {
		out.Tasks, out.Failures = nil, nil
		c, err := a.getCluster(tx, clusterName)
		if err != nil {
			return err
		}
		d, err := a.getTaskDefinition(tx, ref)
		if err != nil {
			return err
		}
		if d.Status != task.DefinitionActive {
			return invalid("taskDefinition", "%s is INACTIVE", d.Ref())
		}
		if err := a.checkTaskPolicy(c, d.TaskDefinition); err != nil {
			return err
		}
		l := mk(d.TaskDefinition)
		if l.Overrides != nil {
			if _, err := l.Overrides.Apply(l.Def); err != nil {
				return fmt.Errorf("%w: overrides: %w", api.ErrInvalid, err)
			}
		}
		created, err := a.launcher.Place(tx, l, nil, nil)
		var noFit *placement.NoFitError
		if errors.As(err, &noFit) {
			reason := "RESOURCE"
			if len(noFit.Reasons) > 0 {
				reason = string(noFit.Reasons[0].Reason)
			}
			if strings.HasPrefix(reason, "ATTRIBUTE:") {
				reason = "ATTRIBUTE" // as ECS says it; Detail names the attribute
			}
			for range noFit.Requested - noFit.Placed {
				out.Failures = append(out.Failures, api.Failure{Reason: reason, Detail: noFit.Error()})
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
			out.Tasks = append(out.Tasks, a.DescribeTask(t))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// StopTask asks a task to stop: its containers get SIGTERM, then SIGKILL
// after their stopTimeout. Stopping a stopped task is not an error.
func (a *Actions) StopTask(ctx context.Context, in api.StopTaskInput) (*api.StopTaskOutput, error) {
	clusterName, taskID, reason := clusterName(in.Cluster), in.Task, in.Reason
	if taskID == "" {
		return nil, invalid("task", "is required")
	}
	var out *task.Task
	err := a.store.Update(ctx, func(tx store.Tx) error {
		t, err := a.getTask(tx, clusterName, taskID)
		if err != nil {
			return err
		}
		next := t.Copy()
		if reason == "" {
			reason = "Task stopped by user"
		}
		if next.Stop(task.UserInitiated, reason, a.now()) {
			if err := tx.Update(next); err != nil {
				return err
			}
		}
		out = a.DescribeTask(next)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &api.StopTaskOutput{Task: out}, nil
}

// DescribeTasks describes tasks. It fails with ErrNotFound when the
// cluster does not exist; a task that does not is reported in Failures.
func (a *Actions) DescribeTasks(ctx context.Context, in api.DescribeTasksInput) (*api.DescribeTasksOutput, error) {
	clusterName := clusterName(in.Cluster)
	if len(in.Tasks) == 0 || len(in.Tasks) > api.MaxDescribeTasks {
		return nil, invalid("tasks", "must name 1 to %d tasks, got %d", api.MaxDescribeTasks, len(in.Tasks))
	}
	out := &api.DescribeTasksOutput{}
	err := a.store.View(ctx, func(tx store.ReadTx) error {
		out.Tasks, out.Failures = nil, nil
		if _, err := a.getCluster(tx, clusterName); err != nil {
			return err
		}
		for _, id := range in.Tasks {
			t, err := a.getTask(tx, clusterName, id)
			if errors.Is(err, api.ErrNotFound) {
				out.Failures = append(out.Failures, missing(a.TaskARN(clusterName, id)))
				continue
			}
			if err != nil {
				return err
			}
			out.Tasks = append(out.Tasks, a.DescribeTask(t))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ListTasks lists the tasks that match the filters.
func (a *Actions) ListTasks(ctx context.Context, in api.ListTasksInput) (*api.ListTasksOutput, error) {
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
	err := a.store.View(ctx, func(tx store.ReadTx) error {
		ids = nil
		if _, err := a.getCluster(tx, in.Cluster); err != nil {
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
	out := &api.ListTasksOutput{NextToken: next, TaskArns: make([]string, len(page))}
	for i, id := range page {
		out.TaskArns[i] = a.TaskARN(in.Cluster, id)
	}
	return out, nil
}

// AllTaskArns is every task ARN that ListTasks lists for in, page after
// page.
func (a *Actions) AllTaskArns(ctx context.Context, in api.ListTasksInput) ([]string, error) {
	var arns []string
	for {
		page, err := a.ListTasks(ctx, in)
		if err != nil {
			return nil, err
		}
		arns = append(arns, page.TaskArns...)
		if page.NextToken == "" {
			return arns, nil
		}
		in.NextToken = page.NextToken
	}
}

func familyOf(ref string) string {
	f, _, _ := splitRef(ref)
	return f
}

func (a *Actions) getTask(tx store.ReadTx, clusterName, id string) (*state.Task, error) {
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
