package agent

import (
	"context"
	"fmt"
	"time"

	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/runtime"
	"github.com/stevedore-io/stevedore/task"
)

// adopt takes over the task's containers found in the runtime at start-up
// and reconciles them with what the store says.
func (r *runner) adopt(ctx context.Context) error {
	t := r.current()
	r.halfCreated = rank(t.LastStatus) >= rank(task.Pending)
	var lost []string
	for _, name := range r.names {
		c := r.ctrs[name]
		stored := t.Container(name)
		info, ok := r.adopted[name]
		if !ok {
			switch stored.LastStatus {
			case task.ContainerRunning:
				lost = append(lost, name)
				c.started, c.exited = true, true
			case task.ContainerStopped:
				c.started, c.exited = stored.ExitCode != nil, true
				c.abandoned = stored.ExitCode == nil
				c.exitCode = stored.ExitCode
			}
			continue
		}
		c.created, c.id = true, info.ID
		if info.State == runtime.StateCreated {
			continue
		}
		c.started, c.startedAt = true, info.StartedAt
		if stored.LastStatus == task.ContainerStopped {
			c.exited, c.exitCode = true, stored.ExitCode
			continue
		}
		if err := r.watch(ctx, c); err != nil {
			return err
		}
		r.log.Info("agent: adopted container", "container", name, "state", info.State)
		if info.State == runtime.StateRunning {
			r.monitor(c, true)
		}
	}
	if len(r.adopted) == 0 && len(lost) == 0 {
		return nil // a new task: nothing to record
	}
	return r.modify(ctx, func(t *state.Task) (bool, error) {
		now := time.Now()
		changed := r.recordRuntimeIDs(t)
		for _, name := range lost {
			reason := fmt.Sprintf("Container %s vanished from the runtime while the agent was away", name)
			if r.ctrs[name].essential() {
				code := task.EssentialContainerExited
				if rank(t.LastStatus) < rank(task.Running) {
					code = task.TaskFailedToStart
				}
				t.Stop(code, reason, now)
			}
			if err := t.SetContainerStopped(name, nil, reason, now); err != nil {
				return false, err
			}
			changed = true
		}
		for _, name := range r.names {
			if r.ctrs[name].running() && t.Container(name).LastStatus == task.ContainerPending {
				if err := t.SetContainerRunning(name); err != nil {
					return false, err
				}
				changed = true
			}
		}
		return changed, nil
	})
}

// recordRuntimeIDs writes the runtime IDs of the created containers.
func (r *runner) recordRuntimeIDs(t *state.Task) bool {
	changed := false
	for _, name := range r.names {
		c := r.ctrs[name]
		if sc := t.Container(name); c.created && sc != nil && sc.RuntimeID != c.id {
			sc.RuntimeID = c.id
			changed = true
		}
	}
	return changed
}

// adoptExisting takes over a container that Create found already there
// (created by an earlier agent that stopped before recording it).
func (r *runner) adoptExisting(ctx context.Context, c *ctr) error {
	var info runtime.ContainerInfo
	err := r.a.untilAvailable(r.startCtx, func() (err error) {
		info, err = r.a.cfg.Runtime.Inspect(r.startCtx, c.id)
		return err
	})
	if err != nil {
		return err
	}
	if info.Labels[LabelTask] != r.id || info.Labels[LabelContainer] != c.name {
		return fmt.Errorf("container %s exists and belongs to something else: %w", c.id, runtime.ErrAlreadyExists)
	}
	if info.State != runtime.StateCreated {
		c.started, c.startedAt = true, info.StartedAt
		if err := r.watch(ctx, c); err != nil {
			return err
		}
		if info.State == runtime.StateRunning {
			r.monitor(c, false)
		}
	}
	return nil
}
