package etcd_test

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/internal/etcdtest"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/etcd"
	"github.com/stevedore-io/stevedore/store/storetest"
)

// TestCluster runs stores on a 3-member etcd cluster of separate processes
// (copies of this test binary running an embed member): writers on two
// members increment one counter concurrently, one member is killed with
// SIGKILL and comes back, then another, and a watch whose member is killed
// under it still sees every increment once, in order.
func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three etcd processes")
	}
	t.Parallel()
	c := etcdtest.StartCluster(t, 3)
	m := c.Members
	// Each store dials every member, preferring its own first, as a
	// replica next to one member would.
	endpoints := func(first int) []string {
		return []string{m[first].Endpoint, m[(first+1)%3].Endpoint, m[(first+2)%3].Endpoint}
	}
	a, b := open(t, endpoints(0), etcd.WithPrefix("/c")), open(t, endpoints(1), etcd.WithPrefix("/c"))
	watching := open(t, endpoints(0), etcd.WithPrefix("/c"))

	rev := createItems(t, a, item(storetest.KindA, "counter", 0))
	w, err := watching.Watch(t.Context(), rev, store.WithKinds(storetest.KindA))
	require.NoError(t, err)
	t.Cleanup(w.Close)

	const perWriter = 20
	round := func() {
		var wg sync.WaitGroup
		for _, s := range []store.Store{a, b, a, b} {
			wg.Go(func() {
				for range perWriter {
					storetest.Increment(t, s, storetest.KindA, "counter")
				}
			})
		}
		wg.Wait()
	}
	round()
	m[0].Kill(t)
	round() // a's first endpoint is gone: its client fails over
	m[0].Restart(t)
	m[1].Kill(t)
	round()
	m[1].Restart(t)

	total := 3 * 4 * perWriter
	assert.Equal(t, total, getItem(t, watching, storetest.KindA, "counter").Value, "no increment lost")
	for want := 1; want <= total; want++ {
		ev := recv(t, w)
		require.Equal(t, want, ev.Object.(*storetest.Item).Value, "the watcher sees every increment once, in order")
	}

	// The restarted member caught up: a store that only knows it reads
	// the latest value.
	only := open(t, []string{m[1].Endpoint}, etcd.WithPrefix("/c"))
	assert.Equal(t, total, getItem(t, only, storetest.KindA, "counter").Value)
}
