package state

import (
	"context"
	"time"

	"github.com/stevedore-io/stevedore/service"
	"github.com/stevedore-io/stevedore/store"
)

// What a process that opens a store no other process can hold (a data
// directory, which store/bolt locks) must reset before anything runs: the
// facts that held only while the process before it ran.

// DisconnectAgents records the agents of every instance as disconnected, in
// one transaction. An Orchestrator starting on a store that no other
// process can hold (its data directory, which store/bolt locks) calls it
// before anything runs: the agents connected in the store ran in a process
// that is gone (killed, or closed without being able to say so), and each
// is connected again when its instance registers, as an ECS agent coming
// back. Until then placement keeps new tasks off the instance, rather than
// leaving them PROVISIONING on a host that may never return.
// The change is dated now.
func DisconnectAgents(ctx context.Context, s store.Store, now time.Time) error {
	return s.Update(ctx, func(tx store.Tx) error {
		all, err := store.List[*Instance](tx, KindInstances)
		if err != nil {
			return err
		}
		for _, inst := range all {
			if !inst.AgentConnected && inst.EngineOutage == nil {
				continue
			}
			next := inst.Copy()
			// The outage an agent of that process recorded went with it.
			next.AgentConnected, next.EngineOutage = false, nil
			next.DateChange(&inst.ContainerInstance, now)
			if err := tx.Update(next); err != nil {
				return err
			}
		}
		return nil
	})
}

// RestartAlarmWatches records, in one transaction, that the alarm watches
// of the deployments in progress begin again at now
// (service.Deployment.AlarmsWatchedFrom): an Orchestrator starting on a
// store that no other process can hold calls it before anything runs,
// since the watches and their datapoints died with the process before it.
// Until the new watch has seen a full window, the planner does not let a
// bake with alarms end.
func RestartAlarmWatches(ctx context.Context, s store.Store, now time.Time) error {
	return s.Update(ctx, func(tx store.Tx) error {
		all, err := store.List[*Service](tx, KindServices)
		if err != nil {
			return err
		}
		for _, svc := range all {
			a := svc.DeploymentConfiguration.Alarms
			if a == nil || !a.Enable || len(svc.Deployments) == 0 {
				continue
			}
			d := svc.Deployments[0]
			if d.RolloutState != service.RolloutInProgress || !d.AlarmsWatchedFrom.Before(now) {
				continue
			}
			next := svc.Copy()
			next.Deployments[0].AlarmsWatchedFrom = now
			if err := tx.Update(next); err != nil {
				return err
			}
		}
		return nil
	})
}
