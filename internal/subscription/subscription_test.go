package subscription_test

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/internal/subscription"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/memory"
)

type obj struct {
	store.Meta
	ID string
}

func (*obj) Kind() string       { return "objs" }
func (o *obj) ObjectID() string { return o.ID }

func TestPumpTranslatesInOrderAndEndsWithItsContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := memory.New()
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, s.Close()) })
		ctx, cancel := context.WithCancel(t.Context())
		f, err := store.Follow(ctx, s, store.FollowConfig{})
		require.NoError(t, err)
		out := make(chan string, 10)
		done := make(chan struct{})
		go func() {
			defer close(done)
			subscription.Pump(ctx, context.Background(), f, func(ev store.Event) []string {
				return []string{ev.ID + "-a", ev.ID + "-b"} // one change, two events
			}, out)
		}()
		for _, id := range []string{"x", "y"} {
			require.NoError(t, s.Update(ctx, func(tx store.Tx) error { return tx.Create(&obj{ID: id}) }))
		}
		synctest.Wait()
		assert.Equal(t, []string{"x-a", "x-b", "y-a", "y-b"}, []string{<-out, <-out, <-out, <-out})
		cancel()
		<-done
		_, open := <-out
		assert.False(t, open, "the channel closes when the subscription ends")
	})
}
