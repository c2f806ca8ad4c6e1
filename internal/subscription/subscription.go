// Package subscription turns a follower of the store into a channel of API
// events, for Orchestrator.Subscribe: each store change is translated into
// the events it means (Translate), in order; a subscriber that falls so far behind that
// the follower must start over from a snapshot has lost events, and is
// dropped (its channel closes).
package subscription

import (
	"context"

	"github.com/stevedore-io/stevedore/store"
)

// Pump sends the translations of f's events to out until ctx or stop ends,
// f ends, or f had to resync; then it closes f and out.
func Pump[T any](ctx, stop context.Context, f *store.Follower, translate func(store.Event) []T, out chan<- T) {
	defer close(out)
	defer f.Close()
	var buf []store.Event
	for {
		select {
		case <-ctx.Done():
			return
		case <-stop.Done():
			return
		case <-f.Ready():
		}
		evs, resynced, err := f.Take(buf[:0])
		if err != nil || resynced {
			return // ended, or too far behind: events were lost
		}
		for _, ev := range evs {
			for _, e := range translate(ev) {
				select {
				case out <- e:
				case <-ctx.Done():
					return
				case <-stop.Done():
					return
				}
			}
		}
		clear(evs)
		buf = evs
	}
}
