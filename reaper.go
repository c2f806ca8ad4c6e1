package stevedore

import (
	"context"
	"time"

	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/task"
)

// reapInterval is how often stopped tasks past their retention are removed.
const reapInterval = time.Minute

// reap removes STOPPED tasks once they are older than the retention period.
func (o *Orchestrator) reap(ctx context.Context, _ *Orchestrator) error {
	ticker := time.NewTicker(reapInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ticker.C:
		}
		cutoff := o.now().Add(-o.retention)
		err := o.store.Update(ctx, func(tx store.Tx) error {
			tasks, err := store.List[*state.Task](tx, state.KindTasks)
			if err != nil {
				return err
			}
			for _, t := range tasks {
				if t.LastStatus == task.Stopped && t.StoppedAt.Before(cutoff) {
					if err := tx.Delete(state.KindTasks, t.ID()); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
}
