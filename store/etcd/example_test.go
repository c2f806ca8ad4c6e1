package etcd_test

import (
	"context"
	"errors"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"go.uber.org/zap"

	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/etcd"
	"github.com/stevedore-io/stevedore/store/storetest"
)

// A leader's loops get a store fenced by its election key: once it has
// lost the election, its writes are refused.
func ExampleStore_WithGuard() {
	ctx := context.Background()
	endpoints := shared.Endpoints // the etcd members
	prefix := fmt.Sprintf("/example/%d", prefixes.Add(1))

	client, err := clientv3.New(clientv3.Config{Endpoints: endpoints, Logger: zap.NewNop()})
	if err != nil {
		panic(err)
	}
	defer client.Close()
	s, err := etcd.New(client, etcd.WithCodec(itemCodec()), etcd.WithPrefix(prefix))
	if err != nil {
		panic(err)
	}
	defer s.Close()

	sess, err := concurrency.NewSession(client, concurrency.WithTTL(10))
	if err != nil {
		panic(err)
	}
	defer sess.Close()
	election := concurrency.NewElection(sess, prefix+"-leader")
	if err := election.Campaign(ctx, "replica-1"); err != nil {
		panic(err)
	}
	leader, err := s.WithGuard(etcd.ElectionGuard(election))
	if err != nil {
		panic(err)
	}

	create := func(id string) error {
		return leader.Update(ctx, func(tx store.Tx) error {
			return tx.Create(&storetest.Item{Group: storetest.KindA, ID: id})
		})
	}
	fmt.Println("while leading:", create("first"))

	// The lease runs out (here: revoked), and etcd deletes the election key.
	if _, err := client.Revoke(ctx, sess.Lease()); err != nil {
		panic(err)
	}
	err = create("second")
	fmt.Println("after losing the election, fenced:", errors.Is(err, etcd.ErrFenced))
	// Output:
	// while leading: <nil>
	// after losing the election, fenced: true
}
