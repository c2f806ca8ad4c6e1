package state

import (
	"context"
	"time"

	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/task"
)

// TasksOn lists the tasks assigned to instance id that are not STOPPED.
func TasksOn(tx store.ReadTx, id string) ([]*Task, error) {
	all, err := store.List[*Task](tx, KindTasks)
	if err != nil {
		return nil, err
	}
	var out []*Task
	for _, t := range all {
		if t.ContainerInstanceID() == id && t.LastStatus != task.Stopped {
			out = append(out, t)
		}
	}
	return out, nil
}

// Deregister makes inst INACTIVE for instReason, and asks the tasks (those
// still on it) to stop with code and reason, in tx.
func Deregister(tx store.Tx, inst *Instance, tasks []*Task, code task.StopCode, reason, instReason string, now time.Time) error {
	for _, t := range tasks {
		next := t.Copy()
		if next.Stop(code, reason, now) {
			if err := tx.Update(next); err != nil {
				return err
			}
		}
	}
	next := inst.Copy()
	next.Status = cluster.StatusInactive
	next.StatusReason = instReason
	return tx.Update(next)
}

// DisconnectAgents records the agents of every instance as disconnected, in
// one transaction. An Orchestrator starting on a store that no other
// process can hold (its data directory, which store/bolt locks) calls it
// before anything runs: the agents connected in the store ran in a process
// that is gone (killed, or closed without being able to say so), and each
// is connected again when its instance registers, as an ECS agent coming
// back. Until then placement keeps new tasks off the instance, rather than
// leaving them PROVISIONING on a host that may never return.
func DisconnectAgents(ctx context.Context, s store.Store) error {
	return s.Update(ctx, func(tx store.Tx) error {
		all, err := store.List[*Instance](tx, KindInstances)
		if err != nil {
			return err
		}
		for _, inst := range all {
			if !inst.AgentConnected {
				continue
			}
			next := inst.Copy()
			next.AgentConnected = false
			if err := tx.Update(next); err != nil {
				return err
			}
		}
		return nil
	})
}
