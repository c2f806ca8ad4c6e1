package stevedore

import (
	"cmp"
	"context"
	"path/filepath"
	"time"

	"github.com/stevedore-io/stevedore/agent"
	"github.com/stevedore-io/stevedore/api"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/store"
)

// AgentVersion is reported by the agents this Orchestrator runs.
const AgentVersion = api.AgentVersion

// SecretResolver resolves secrets[].valueFrom references when containers
// start. Values are injected into the containers' environment and never
// stored. See package secrets for providers.
type SecretResolver = agent.SecretResolver

// LogSink receives containers' output. See package logs for a store that
// can be queried.
type LogSink = agent.LogSink

// ImageCleanup configures an agent's removal of unused images (see
// agent.ImageCleanup).
type ImageCleanup = agent.ImageCleanup

// startAgent runs the agent of one instance until the Orchestrator closes or
// the instance is deregistered.
func (o *Orchestrator) startAgent(clusterName, id string, in RegisterContainerInstanceInput) error {
	a, err := agent.New(agent.Config{
		InstanceID:        id,
		StateDir:          cmp.Or(in.StateDir, o.agentStateDir(id)),
		Store:             o.feed.Store(id),
		Runtime:           in.Runtime,
		Network:           in.Network,
		Secrets:           in.Secrets,
		ImageCleanup:      in.ImageCleanup,
		VerifyImageAccess: in.VerifyImageAccess,
		Logs:              o.actions.AgentLogs(),
		Logger:            o.log.With("instance", id),
		SampleInterval:    o.scalingPeriod / 2,
	})
	if err != nil {
		return err
	}
	o.agentsMu.Lock() // one registration of an instance at a time
	defer o.agentsMu.Unlock()
	o.mu.Lock()
	old := o.agents[id]
	o.mu.Unlock()
	if old != nil {
		// The old agent marks the instance disconnected when it ends: let
		// it finish before the new one starts, so it cannot undo the new
		// registration (and two agents never drive one instance).
		old.Stop()
		if err := o.markAgentConnected(id); err != nil {
			return err
		}
	}
	h, err := o.sup.Start("agent "+id, a, agentRestart)
	if err != nil {
		// Closed since the instance was written: no agent runs for it,
		// so it must not stay marked connected (best effort: an owned
		// store may be closed already).
		_ = o.setAgentConnected(id, false)
		return closedErr(err)
	}
	o.mu.Lock()
	o.agents[id] = h
	o.mu.Unlock()
	return nil
}

// agentStateDir is the state directory of an instance's agent: under the
// data directory with WithDataDir, the agent's default otherwise
// (agent.DefaultStateDir).
func (o *Orchestrator) agentStateDir(id string) string {
	if o.agentDirs == "" {
		return ""
	}
	return filepath.Join(o.agentDirs, id)
}

// agentRestart is how soon an agent that ended with an error runs again.
const agentRestart = time.Second

// markAgentConnected records that an instance's agent is connected.
func (o *Orchestrator) markAgentConnected(id string) error {
	if err := o.checkOpen(); err != nil {
		return err
	}
	return closedErr(o.setAgentConnected(id, true))
}

// setAgentConnected records whether an instance's agent is connected. It
// writes to the backing store: it also runs while Close does.
func (o *Orchestrator) setAgentConnected(id string, connected bool) error {
	return o.backing.Update(context.WithoutCancel(o.ctx), func(tx store.Tx) error {
		inst, err := store.Get[*state.Instance](tx, state.KindInstances, id)
		if err != nil || inst.AgentConnected == connected {
			return err
		}
		next := inst.Copy()
		next.AgentConnected = connected
		next.DateChange(&inst.ContainerInstance, o.now())
		return tx.Update(next)
	})
}
