// Package actions holds what the API's calls do: each of the
// Orchestrator's ECS actions (and its extensions: security groups, logs,
// scaling, Spot interruptions, task policies) reads and writes desired
// state in the store here, in one transaction where it writes. The root
// package wires an Actions from its options and forwards each method to
// it; the loops that carry the desired state out live in their own
// packages and meet these actions in the store only.
//
// Actions takes its dependencies in a Config and never imports the root
// package (internal/deps checks it). Its inputs and outputs are package
// api's.
package actions

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/stevedore-io/stevedore/agent"
	"github.com/stevedore-io/stevedore/api"
	"github.com/stevedore-io/stevedore/errdefs"
	"github.com/stevedore-io/stevedore/internal/launch"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/task/policy"
)

// Config lists what the actions use.
type Config struct {
	// Store is the store as the API sees it (it fails with api.ErrClosed
	// once the Orchestrator is closed).
	Store store.Store
	// Context is the Orchestrator's: work that outlives a call (labelling
	// a task's logs) uses it.
	Context context.Context
	// CheckOpen returns api.ErrClosed once the Orchestrator is closed.
	CheckOpen func() error
	// Now is the clock.
	Now func() time.Time
	// Logger logs what a call cannot report to its caller.
	Logger *slog.Logger
	// ARNPrefix begins the ARNs the API gives out
	// ("arn:aws:ecs:local:000000000000:").
	ARNPrefix string
	// Launcher places and creates the tasks of RunTask and StartTask.
	Launcher *launch.Launcher
	// TaskPolicy is the task policy of clusters that set none.
	TaskPolicy policy.Policy
	// Logs is the containers' log sink; one that is an api.LogStore
	// answers GetLogEvents and FilterLogEvents.
	Logs agent.LogSink
	// TargetGroups, ListenerRules and Metrics are the names of the target
	// groups, listener rules and custom metrics services may name.
	TargetGroups, ListenerRules, Metrics map[string]bool
	// AlarmBakeTimes are the alarms services may name, each with how long
	// it takes at most to fire plus one period: the bake time of a
	// rolling deployment it watches.
	AlarmBakeTimes map[string]time.Duration
	// StartAgent runs the agent of an instance registered with a runtime.
	StartAgent func(cluster, id string, in api.RegisterContainerInstanceInput) error
}

// Actions carries out the API's calls on the store.
type Actions struct {
	store      store.Store
	ctx        context.Context
	checkOpen  func() error
	now        func() time.Time
	log        *slog.Logger
	arnPrefix  string
	launcher   *launch.Launcher
	taskPolicy policy.Policy
	logs       agent.LogSink

	targetGroups, rules, metrics map[string]bool
	alarms                       map[string]time.Duration

	startAgent func(cluster, id string, in api.RegisterContainerInstanceInput) error
}

// New returns the actions of cfg.
func New(cfg Config) (*Actions, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("actions: no store")
	case cfg.Launcher == nil:
		return nil, errors.New("actions: no launcher")
	case cfg.StartAgent == nil:
		return nil, errors.New("actions: no StartAgent")
	}
	a := &Actions{store: cfg.Store, ctx: cfg.Context, checkOpen: cfg.CheckOpen, now: cfg.Now, log: cfg.Logger,
		arnPrefix: cfg.ARNPrefix, launcher: cfg.Launcher, taskPolicy: cfg.TaskPolicy, logs: cfg.Logs,
		targetGroups: cfg.TargetGroups, rules: cfg.ListenerRules, metrics: cfg.Metrics, alarms: cfg.AlarmBakeTimes,
		startAgent: cfg.StartAgent}
	if a.ctx == nil {
		a.ctx = context.Background()
	}
	if a.checkOpen == nil {
		a.checkOpen = func() error { return nil }
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	return a, nil
}

func notFound(kind, id string) error { return &api.NotFoundError{Kind: kind, ID: id} }

// invalid returns the *FieldError of field, its reason formatted.
var invalid = errdefs.Invalid
