package stevedore

import (
	"context"
	"time"

	"github.com/stevedore-io/stevedore/agent"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/network"
	"github.com/stevedore-io/stevedore/runtime"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/task"
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

// ImageCleanup configures an agent's removal of unused images (see
// agent.ImageCleanup).
type ImageCleanup = agent.ImageCleanup

type agentHandle struct {
	cancel context.CancelFunc
	done   chan struct{}
	// runtime is the instance's, for the autoscaler's Stats; guarded by
	// Orchestrator.mu once the handle is in o.agents, nil once the
	// instance is deregistered.
	runtime runtime.Runtime
}

// startAgent runs the agent of one instance until the Orchestrator closes or
// the instance is deregistered.
func (o *Orchestrator) startAgent(clusterName, id string, in RegisterInstanceInput) error {
	a, err := agent.New(agent.Config{
		InstanceID:   id,
		Store:        agentStore{Store: o.store, feed: o.feed, instance: id},
		Runtime:      in.Runtime,
		Network:      instanceNetwork(sharedNetwork{Provider: in.Network, o: o, instance: id, cluster: clusterName}),
		Secrets:      in.Secrets,
		ImageCleanup: in.ImageCleanup,
		Logs:         o.agentLogs(),
		Logger:       o.log.With("instance", id),
		Deactivate:   o.deactivator(),
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(o.ctx)
	h := &agentHandle{cancel: cancel, done: make(chan struct{}), runtime: in.Runtime}
	o.mu.Lock()
	old := o.agents[id]
	o.agents[id] = h
	o.mu.Unlock()
	if old != nil {
		// The old agent marks the instance disconnected when it ends: let
		// it finish before the new one starts, so it cannot undo the new
		// registration (and two agents never drive one instance).
		old.cancel()
		<-old.done
		if err := o.markAgentConnected(id); err != nil {
			cancel()
			return err
		}
	}
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

// markAgentConnected records that an instance's agent is connected.
func (o *Orchestrator) markAgentConnected(id string) error {
	return o.store.Update(o.ctx, func(tx store.Tx) error {
		inst, err := store.Get[*state.Instance](tx, state.KindInstances, id)
		if err != nil || inst.AgentConnected {
			return err
		}
		next := inst.Copy()
		next.AgentConnected = true
		return tx.Update(next)
	})
}

// sharedNetwork is an instance's view of a network provider that several
// instances of this process may share (several instances on one host, as in
// the quickstart). An agent's Reconcile keeps only its own instance's tasks;
// on a shared provider that would tear down the networks of the other
// instances' tasks, so this view also keeps every task that is live on
// another instance.
type sharedNetwork struct {
	network.Provider
	o        *Orchestrator
	instance string
	cluster  string
}

// Setup implements network.Provider. With service discovery on, a task
// whose definition names no DNS server resolves through the discovery
// server.
func (n sharedNetwork) Setup(ctx context.Context, req network.Request) (*network.Attachment, error) {
	if d := n.o.discovery; d != nil && len(req.DNS.Servers) == 0 && req.Mode.HasNamespace() {
		req.DNS = d.dnsConfig(n.cluster)
	}
	if _, ok := n.Provider.(network.Readier); !ok {
		req.DeferReady = false // nobody would wait
	}
	return n.Provider.Setup(ctx, req)
}

// The views of a sharedNetwork keep the provider's optional interfaces
// visible to the agent: network.TaskDialer (its HTTP and TCP health checks
// dial through it) and network.IngressUpdater (security-group rule changes
// reach running tasks).
type (
	dialingNetwork struct {
		sharedNetwork
		network.TaskDialer
	}
	updatingNetwork struct {
		sharedNetwork
		network.IngressUpdater
	}
	dialingUpdatingNetwork struct {
		sharedNetwork
		network.TaskDialer
		network.IngressUpdater
	}
)

// instanceNetwork returns n, as a network.TaskDialer and a
// network.IngressUpdater too when its provider is.
func instanceNetwork(n sharedNetwork) network.Provider {
	d, dials := n.Provider.(network.TaskDialer)
	u, updates := n.Provider.(network.IngressUpdater)
	switch {
	case dials && updates:
		return dialingUpdatingNetwork{sharedNetwork: n, TaskDialer: d, IngressUpdater: u}
	case dials:
		return dialingNetwork{sharedNetwork: n, TaskDialer: d}
	case updates:
		return updatingNetwork{sharedNetwork: n, IngressUpdater: u}
	}
	return n
}

// Reconcile implements network.Provider.
func (n sharedNetwork) Reconcile(ctx context.Context, keep func(taskID string) bool) error {
	elsewhere := map[string]bool{}
	err := n.o.store.View(ctx, func(tx store.ReadTx) error {
		tasks, err := store.List[*state.Task](tx, state.KindTasks)
		for _, t := range tasks {
			if t.ContainerInstanceID() != n.instance && t.LastStatus != task.Stopped {
				elsewhere[t.ID()] = true
			}
		}
		return err
	})
	if err != nil {
		return err
	}
	return n.Provider.Reconcile(ctx, func(id string) bool { return keep(id) || elsewhere[id] })
}

// Ready implements network.Readier for the providers that are Readiers.
func (n sharedNetwork) Ready(ctx context.Context, taskID string) error {
	if rd, ok := n.Provider.(network.Readier); ok {
		return rd.Ready(ctx, taskID)
	}
	return nil
}
