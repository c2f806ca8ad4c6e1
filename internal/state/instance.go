package state

import (
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
	next.DateChange(&inst.ContainerInstance, now)
	return tx.Update(next)
}
