package etcd_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/etcd"
	"github.com/stevedore-io/stevedore/store/storetest"
)

// benchStore returns a store on the shared etcd holding n objects of
// KindA, ids "0000".."n-1".
func benchStore(b *testing.B, n int) *etcd.Store {
	b.Helper()
	s := open(b, shared.Endpoints, etcd.WithPrefix(uniquePrefix(b)))
	for start := 0; start < n; start += 100 {
		require.NoError(b, s.Update(b.Context(), func(tx store.Tx) error {
			for i := start; i < min(start+100, n); i++ {
				if err := tx.Create(item(storetest.KindA, fmt.Sprintf("%04d", i), i)); err != nil {
					return err
				}
			}
			return nil
		}))
	}
	return s
}

// BenchmarkUpdate reads, copies and writes back one of 1,000 objects: the
// begin read, the Get and the commit, three requests to etcd.
func BenchmarkUpdate(b *testing.B) {
	s := benchStore(b, 1000)
	i := 0
	for b.Loop() {
		id := fmt.Sprintf("%04d", i%1000)
		i++
		require.NoError(b, s.Update(b.Context(), func(tx store.Tx) error {
			cur, err := store.Get[*storetest.Item](tx, storetest.KindA, id)
			if err != nil {
				return err
			}
			next := cur.Clone()
			next.Value++
			return tx.Update(next)
		}))
	}
}

// BenchmarkList reads a snapshot of 1,000 objects, as a reconcile pass
// does.
func BenchmarkList(b *testing.B) {
	s := benchStore(b, 1000)
	for b.Loop() {
		require.NoError(b, s.View(b.Context(), func(tx store.ReadTx) error {
			all, err := tx.List(storetest.KindA)
			if len(all) != 1000 {
				return fmt.Errorf("listed %d", len(all))
			}
			return err
		}))
	}
}
