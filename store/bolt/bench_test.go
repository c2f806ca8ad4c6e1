package bolt_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/bolt"
	"github.com/stevedore-io/stevedore/store/storetest"
	"github.com/stevedore-io/stevedore/task"
)

// BenchmarkUpdate measures small read-modify-write Updates, each of one
// object of its own, from 1, 8, 16 and 64 concurrent writers, with group
// commit and (for 16, issue 10's figure) without it: updates/s is the
// writes per second. Every Update returns once fsynced, so the figure is
// bound by the disk; commits/op shows how many writers share an fsync.
//
//	go test -run '^$' -bench 'Update/writers=16' -benchtime=2000x ./store/bolt/
func BenchmarkUpdate(b *testing.B) {
	for _, tc := range []struct {
		writers  int
		maxBatch int
	}{
		{1, bolt.DefaultMaxBatch},
		{8, bolt.DefaultMaxBatch},
		{16, bolt.DefaultMaxBatch},
		{16, 1},
		{64, bolt.DefaultMaxBatch},
	} {
		name := fmt.Sprintf("writers=%d/group-commit", tc.writers)
		if tc.maxBatch == 1 {
			name = fmt.Sprintf("writers=%d/no-group-commit", tc.writers)
		}
		b.Run(name, func(b *testing.B) {
			var commits atomic.Int64
			s, err := bolt.OpenHooked(filepath.Join(b.TempDir(), "state.db"),
				bolt.Hooks{BeforeCommit: func(int) error { commits.Add(1); return nil }},
				bolt.WithCodec(itemCodec()), bolt.WithMaxBatch(tc.maxBatch))
			require.NoError(b, err)
			b.Cleanup(func() { s.Close() })
			ctx := context.Background()
			for w := range tc.writers {
				create(b, s, item(storetest.KindA, fmt.Sprint(w), 0))
			}
			commits.Store(0)

			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for w := range tc.writers {
				wg.Go(func() {
					id := fmt.Sprint(w)
					for next.Add(1) <= int64(b.N) {
						err := s.Update(ctx, func(tx store.Tx) error {
							cur, err := store.Get[*storetest.Item](tx, storetest.KindA, id)
							if err != nil {
								return err
							}
							n := cur.Clone()
							n.Value++
							return tx.Update(n)
						})
						if err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
			b.ReportMetric(float64(commits.Load())/float64(b.N), "commits/op")
		})
	}
}

// fill opens a store at a new path holding n items of kind alpha, written
// in transactions of 1,000.
func fill(b *testing.B, n int) (string, *bolt.Store) {
	path := filepath.Join(b.TempDir(), "state.db")
	s, err := bolt.Open(path, bolt.WithCodec(itemCodec()))
	require.NoError(b, err)
	for i := 0; i < n; i += 1000 {
		var objs []store.Object
		for j := i; j < min(n, i+1000); j++ {
			objs = append(objs, item(storetest.KindA, fmt.Sprintf("%06d", j), j))
		}
		create(b, s, objs...)
	}
	return path, s
}

// BenchmarkGet reads one of 10,000 objects in a View: reads are served
// from memory and never touch the file.
func BenchmarkGet(b *testing.B) {
	_, s := fill(b, 10_000)
	b.Cleanup(func() { s.Close() })
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		id := fmt.Sprintf("%06d", i%10_000)
		i++
		err := s.View(ctx, func(tx store.ReadTx) error {
			_, err := tx.Get(storetest.KindA, id)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkList lists 10,000 objects in a View.
func BenchmarkList(b *testing.B) {
	_, s := fill(b, 10_000)
	b.Cleanup(func() { s.Close() })
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		err := s.View(ctx, func(tx store.ReadTx) error {
			all, err := tx.List(storetest.KindA)
			if len(all) != 10_000 {
				return fmt.Errorf("listed %d", len(all))
			}
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpen opens a file: the start-up cost of a restart. items holds
// 10,000 small objects and their 10,000 creations in the history; tasks
// holds 10,000 of Stevedore's task objects (three containers each), and a
// history of 10,000 updates of them, each with its previous version.
func BenchmarkOpen(b *testing.B) {
	b.Run("items", func(b *testing.B) {
		path, s := fill(b, 10_000)
		require.NoError(b, s.Close())
		benchOpen(b, path, itemCodec())
	})
	b.Run("tasks", func(b *testing.B) {
		path := filepath.Join(b.TempDir(), "state.db")
		s, err := bolt.Open(path, bolt.WithCodec(state.Codec()))
		require.NoError(b, err)
		tasks := convergeTaskObjects(b)
		for i := 0; i < len(tasks); i += 1000 {
			var objs []store.Object
			for _, t := range tasks[i:min(len(tasks), i+1000)] {
				objs = append(objs, t)
			}
			create(b, s, objs...)
		}
		for i := 0; i < len(tasks); i += 1000 {
			require.NoError(b, s.Update(context.Background(), func(tx store.Tx) error {
				for _, t := range tasks[i:min(len(tasks), i+1000)] {
					next := t.Copy()
					next.LastStatus = task.Running
					if err := tx.Update(next); err != nil {
						return err
					}
				}
				return nil
			}))
		}
		require.NoError(b, s.Close())
		benchOpen(b, path, state.Codec())
	})
}

func benchOpen(b *testing.B, path string, codec store.Codec) {
	b.ReportAllocs()
	before := processCPU()
	defer func() { b.ReportMetric((processCPU()-before)/float64(b.N), "cpu-s/op") }()
	for b.Loop() {
		s, err := bolt.Open(path, bolt.WithCodec(codec))
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
