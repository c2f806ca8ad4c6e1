package stevedore

import (
	"context"

	"github.com/stevedore-io/stevedore/api"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/internal/subscription"
	"github.com/stevedore-io/stevedore/internal/supervisor"
	"github.com/stevedore-io/stevedore/store"
)

// EventType says what an Event is about.
type EventType = api.EventType

// EventTaskStateChange: a task was created or its lastStatus, desiredStatus or health changed.
const EventTaskStateChange = api.EventTaskStateChange

// EventServiceAction: a service event ("has reached a steady state").
const EventServiceAction = api.EventServiceAction

// EventDeploymentStateChange: a deployment started, completed or failed.
const EventDeploymentStateChange = api.EventDeploymentStateChange

// EventInstanceStateChange: an instance registered, or its status or agent connection changed.
const EventInstanceStateChange = api.EventInstanceStateChange

// Event is one thing that happened in the Orchestrator.
type Event = api.Event

// Subscribe delivers every event from now on until ctx is done or the
// Orchestrator is closed; the channel is closed then. A subscriber that
// falls far behind is dropped: its channel closes early.
// Events of one object arrive in the order they happened.
func (o *Orchestrator) Subscribe(ctx context.Context) (<-chan Event, error) {
	f, err := store.Follow(ctx, o.store, store.FollowConfig{
		Options:   []store.WatchOption{store.WithKinds(state.KindTasks, state.KindServices, state.KindInstances)},
		MaxQueued: subscriberQueue,
	})
	if err != nil {
		return nil, err
	}
	out := make(chan Event, 256)
	// The subscription is a component of its own: Close ends it too.
	started := make(chan struct{})
	h := o.sup.Go("subscriber", supervisor.Func(func(sctx context.Context) error {
		close(started)
		subscription.Pump(ctx, sctx, f, subscription.Translator{DescribeTask: o.actions.DescribeTask}.Translate, out)
		return nil
	}), -1)
	select {
	case <-started:
	case <-h.Done():
		select {
		case <-started: // ran, and ended already
		default: // closed meanwhile: nothing runs
			f.Close()
			return nil, ErrClosed
		}
	}
	return out, nil
}

// subscriberQueue is how many store changes a subscriber may fall behind
// before it is dropped.
const subscriberQueue = 1 << 16
