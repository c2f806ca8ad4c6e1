package etcd_test

import (
	"fmt"
	"os"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/goleak"
	"go.uber.org/zap"

	"github.com/stevedore-io/stevedore/internal/etcdtest"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/etcd"
	"github.com/stevedore-io/stevedore/store/storetest"
)

// shared is one etcd for the tests that do not compact: each store gets a
// prefix of its own on it. Tests that compact start their own etcd, since
// compaction is etcd-wide.
var shared *etcdtest.Server

var prefixes atomic.Int64

func TestMain(m *testing.M) {
	if etcdtest.IsMember() {
		etcdtest.MemberMain()
		return
	}
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "stevedore-etcd-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	shared, err = etcdtest.New(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	shared.Close()
	if code == 0 {
		// No test may leave a goroutine running once its store, client
		// and etcd are closed.
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			return 1
		}
	}
	return code
}

// itemCodec encodes the conformance suite's objects.
func itemCodec() store.Codec {
	return store.NewJSONCodec(map[string]func() store.Object{
		storetest.KindA:     func() store.Object { return new(storetest.Item) },
		storetest.KindB:     func() store.Object { return new(storetest.Item) },
		storetest.OtherKind: func() store.Object { return new(storetest.Other) },
	})
}

// uniquePrefix returns a key prefix no other store of this test binary uses.
func uniquePrefix(t testing.TB) string {
	return fmt.Sprintf("/test/%d", prefixes.Add(1))
}

// client dials endpoints and closes the client when the test ends.
func client(t testing.TB, endpoints []string) *clientv3.Client {
	t.Helper()
	// A quiet client: the fencing tests revoke leases whose sessions
	// then fail to revoke them again, which the client logs.
	c, err := clientv3.New(clientv3.Config{Endpoints: endpoints, Logger: zap.NewNop()})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// open opens a store on endpoints and closes it when the test ends.
func open(t testing.TB, endpoints []string, opts ...etcd.Option) *etcd.Store {
	t.Helper()
	s, err := etcd.Open(t.Context(), endpoints, append([]etcd.Option{etcd.WithCodec(itemCodec())}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, limits storetest.Limits) store.Store {
		opts := []etcd.Option{etcd.WithPrefix(uniquePrefix(t))}
		if limits.WatchBuffer > 0 {
			opts = append(opts, etcd.WithWatchBuffer(limits.WatchBuffer))
		}
		endpoints := shared.Endpoints
		if limits.History > 0 && limits.History < 10_000 {
			// The suite writes more than History events here and
			// expects them compacted: give the test an etcd of its
			// own to compact.
			endpoints = etcdtest.Start(t).Endpoints
			opts = append(opts, etcd.WithCompaction(int64(limits.History)))
		}
		return open(t, endpoints, opts...)
	})
}

func TestShared(t *testing.T) {
	t.Parallel()
	storetest.RunShared(t, func(t *testing.T) (store.Store, store.Store) {
		prefix := etcd.WithPrefix(uniquePrefix(t))
		return open(t, shared.Endpoints, prefix), open(t, shared.Endpoints, prefix)
	})
}
