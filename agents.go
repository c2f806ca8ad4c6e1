package stevedore

import (
	"context"
	"time"

	"github.com/stevedore-io/stevedore/agent"
	"github.com/stevedore-io/stevedore/network"
	"github.com/stevedore-io/stevedore/runtime"
)

// AgentVersion is reported by the agents this Orchestrator runs.
const AgentVersion = "stevedore-agent/0.1.0"

// SecretResolver resolves secrets[].valueFrom references when containers
// start. Values are injected into the containers' environment and never
// stored. See package secrets for providers.
type SecretResolver = agent.SecretResolver

// LogSink receives containers' output. See package logs for a store that
// can be queried.
type LogSink = agent.LogSink

type agentHandle struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// startAgent runs the agent of one instance until the Orchestrator closes or
// the instance is deregistered.
func (o *Orchestrator) startAgent(id string, rt runtime.Runtime, nw network.Provider, secrets SecretResolver) error {
	a, err := agent.New(agent.Config{
		InstanceID: id,
		Store:      agentStore{Store: o.store, feed: o.feed, instance: id},
		Runtime:    rt,
		Network:    nw,
		Secrets:    secrets,
		Logs:       o.logs,
		Logger:     o.log.With("instance", id),
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(o.ctx)
	h := &agentHandle{cancel: cancel, done: make(chan struct{})}
	o.mu.Lock()
	if old := o.agents[id]; old != nil {
		old.cancel()
	}
	o.agents[id] = h
	o.mu.Unlock()
	o.wg.Add(1)
	go func() {
		defer o.wg.Done()
		defer close(h.done)
		for {
			err := a.Run(ctx)
			if ctx.Err() != nil {
				return
			}
			o.log.Warn("agent ended; restarting", "instance", id, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
		}
	}()
	return nil
}
