package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/store"
)

// testConcurrency has writers race on one counter with optimistic
// compare-and-swap (read in a View, write in an Update, retry on conflict)
// while others create objects, and checks that no increment is lost and
// that a watcher sees every one, in order.
func testConcurrency(t *testing.T, newStore NewStore) {
	const (
		writers    = 8
		increments = 40
		creates    = 40
	)
	s := newStore(t, Limits{History: 100_000, WatchBuffer: 50_000})
	create(t, s, item(KindA, "counter", 0))
	w := watch(t, s, revision(t, s), store.WithKinds(KindA))

	var wg sync.WaitGroup
	conflicts := make([]int, writers)
	for n := range writers {
		wg.Go(func() {
			for range increments {
				for {
					cur, err := get(t, s, KindA, "counter")
					if !assert.NoError(t, err) {
						return
					}
					next := cur.Clone()
					next.Value++
					err = s.Update(ctx(t), func(tx store.Tx) error { return tx.Update(next) })
					if errors.Is(err, store.ErrConflict) {
						conflicts[n]++
						continue
					}
					if !assert.NoError(t, err) {
						return
					}
					break
				}
			}
		})
		wg.Go(func() {
			for i := range creates {
				assert.NoError(t, s.Update(ctx(t), func(tx store.Tx) error {
					return tx.Create(item(KindB, fmt.Sprintf("w%d-%d", n, i), i))
				}))
			}
		})
		wg.Go(func() {
			for range creates {
				assert.NoError(t, s.View(ctx(t), func(tx store.ReadTx) error {
					all, err := tx.List(KindB)
					if err != nil {
						return err
					}
					for i := 1; i < len(all); i++ {
						if all[i-1].ObjectID() >= all[i].ObjectID() {
							return fmt.Errorf("list out of order at %d", i)
						}
					}
					return nil
				}))
			}
		})
	}
	wg.Wait()

	final, err := get(t, s, KindA, "counter")
	require.NoError(t, err)
	assert.Equal(t, writers*increments, final.Value, "no increment lost")
	assert.Len(t, list(t, s, KindB), writers*creates)

	var last int64
	for want := 1; want <= writers*increments; want++ {
		ev := recv(t, w)
		require.Equal(t, want, ev.Object.(*Item).Value, "the watcher sees every increment in order")
		require.Equal(t, want-1, ev.Prev.(*Item).Value)
		require.Greater(t, ev.Revision, last)
		last = ev.Revision
	}
	t.Logf("%d compare-and-swap conflicts retried", sum(conflicts))
}

func sum(xs []int) int {
	total := 0
	for _, x := range xs {
		total += x
	}
	return total
}
