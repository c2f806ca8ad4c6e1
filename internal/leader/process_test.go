package leader_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/stevedore-io/stevedore/internal/etcdtest"
	"github.com/stevedore-io/stevedore/internal/leader"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/etcd"
	"github.com/stevedore-io/stevedore/store/storetest"
)

// replicaProcessEnv, set to an etcd endpoint, makes the test binary run
// replicaProcess instead of the tests.
const replicaProcessEnv = "STEVEDORE_LEADER_TEST_REPLICA"

// writeSpan is how long the replica process's writer holds each
// transaction open between its read and its commit: a SIGSTOP is most
// likely to land in it.
const writeSpan = 200 * time.Millisecond

// replicaProcess is a replica named "p1" whose leader's loop writes item
// p1-<n> and the counter, again and again, each time pausing between its
// read and its commit and never letting a cancellation cut a commit short,
// so that nothing but fencing keeps a late commit out. It prints
// "leading <bool>" at every change and "committed", "fenced" or "error"
// after every write, and exits on SIGTERM.
func replicaProcess(endpoint string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, Logger: zap.NewNop(), DialTimeout: time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer c.Close()
	s, err := etcd.New(c, etcd.WithCodec(codec()), etcd.WithPrefix("/leader-test"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer s.Close()
	lead := func(ctx context.Context, s store.Store) error {
		for n := 0; ctx.Err() == nil; n++ {
			err := s.Update(context.WithoutCancel(ctx), func(tx store.Tx) error {
				counter, err := store.Get[*storetest.Item](tx, storetest.KindA, "counter")
				time.Sleep(writeSpan)
				switch {
				case errors.Is(err, store.ErrNotFound):
					err = tx.Create(&storetest.Item{Group: storetest.KindA, ID: "counter"})
				case err == nil:
					next := *counter
					next.Value++
					err = tx.Update(&next)
				}
				if err != nil {
					return err
				}
				return tx.Create(&storetest.Item{Group: storetest.KindA, ID: fmt.Sprintf("p1-%d", n)})
			})
			switch {
			case err == nil:
				fmt.Println("committed")
			case errors.Is(err, etcd.ErrFenced):
				fmt.Println("fenced")
			default:
				fmt.Println("error", err)
			}
		}
		return nil
	}
	el, err := leader.New(leader.Config{Store: s, Key: electionKey, Name: "p1", TTL: ttl, Lead: lead,
		Notify: func(st leader.Status) { fmt.Println("leading", st.Leading) }})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for ctx.Err() == nil {
		_ = el.Run(ctx)
	}
	return 0
}

// TestPausedLeaderProcessIsFenced: a leader process stopped with SIGSTOP
// past its lease, in the middle of its transactions, and continued with
// SIGCONT once another replica leads, has its late commits refused: none
// of its writes is stored after the new leader's term began.
func TestPausedLeaderProcessIsFenced(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a replica in a process of its own")
	}
	srv := etcdtest.Start(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), replicaProcessEnv+"="+srv.Endpoints[0])
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGCONT)
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(waitLimit):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	lines := make(chan string, 1024)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	// await reads p1's lines until one is want, and returns those before.
	await := func(want string) []string {
		t.Helper()
		var seen []string
		timeout := time.After(waitLimit)
		for {
			select {
			case l, ok := <-lines:
				require.True(t, ok, "the replica process ended; it printed %q", seen)
				if l == want {
					return seen
				}
				seen = append(seen, l)
			case <-timeout:
				t.Fatalf("no %q from the replica process within %v; it printed %q", want, waitLimit, seen)
			}
		}
	}
	await("leading true")
	await("committed")

	// Stop p1 in the middle of a transaction, for longer than its lease.
	time.Sleep(writeSpan / 2)
	require.NoError(t, cmd.Process.Signal(syscall.SIGSTOP))
	b := startReplica(t, "b", srv.Endpoints[0])
	eventually(t, func() bool { return b.elector.Status().Leading }, "b leads once p1's lease has run out")
	term := b.elector.Status().Term
	require.NoError(t, cmd.Process.Signal(syscall.SIGCONT))

	before := await("leading false")
	assert.Contains(t, before, "fenced", "p1's commit under way when it was stopped was refused")
	err = b.store.View(t.Context(), func(tx store.ReadTx) error {
		items, err := store.List[*storetest.Item](tx, storetest.KindA)
		if err != nil {
			return err
		}
		var written int
		for _, it := range items {
			if strings.HasPrefix(it.ID, "p1-") {
				written++
				assert.Less(t, it.CreateRevision, term, "p1 wrote %s after b's term began", it.ID)
			}
		}
		assert.Positive(t, written)
		return nil
	})
	require.NoError(t, err)
}
