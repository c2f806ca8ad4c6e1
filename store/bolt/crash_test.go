package bolt_test

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/bolt"
	"github.com/stevedore-io/stevedore/store/storetest"
)

// The test binary runs as a child process when childModeEnv is set.
const (
	childModeEnv = "STEVEDORE_BOLT_TEST_CHILD"
	childPathEnv = "STEVEDORE_BOLT_TEST_PATH"

	childOpen  = "open"  // try to open the file, print whether it was locked
	childWrite = "write" // write until killed, printing every commit
	childFull  = "full"  // write with the file size limited until a commit fails
)

// crashWriters is how many goroutines of the child write at once, so that
// kills land during group commits.
const crashWriters = 8

// The child fails one commit in crashFailEvery with errCrashInjected.
const crashFailEvery = 16

var errCrashInjected = errors.New("injected commit failure")

// crashHistory is the child's WithHistory: small, so that kills land
// during checkpoints and the removal of segments too.
const crashHistory = 64

var (
	crashIterations = flag.Int("bolt.crash-iterations", envInt("STEVEDORE_CRASH_ITERATIONS", 3),
		"kills of TestCrashSafety (the environment variable STEVEDORE_CRASH_ITERATIONS sets the default)")
	crashSeed = flag.Uint64("bolt.crash-seed", 0, "seed of TestCrashSafety; 0 picks one")
)

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

func TestMain(m *testing.M) {
	switch os.Getenv(childModeEnv) {
	case childOpen:
		os.Exit(runChildOpen(os.Getenv(childPathEnv)))
	case childWrite:
		os.Exit(runChildWrite(os.Getenv(childPathEnv)))
	case childFull:
		os.Exit(runChildFull(os.Getenv(childPathEnv)))
	}
	// Every store, watcher and committer a test starts is gone when it
	// ends.
	goleak.VerifyTestMain(m)
}

// child returns a command running this test binary in mode on path. The
// process is killed, if still running, when the test ends.
func child(t *testing.T, mode, path string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childModeEnv+"="+mode, childPathEnv+"="+path)
	t.Cleanup(func() {
		if cmd.Process != nil && cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return cmd
}

func runChildOpen(path string) int {
	s, err := bolt.Open(path, bolt.WithCodec(itemCodec()), bolt.WithLockTimeout(100*time.Millisecond))
	if err == nil {
		s.Close()
	}
	fmt.Printf("locked: %v: %v\n", errors.Is(err, bolt.ErrLocked), err)
	return 0
}

// runChildWrite opens the store, with small segments of the log (so that
// kills land while segments are started and removed too), and has
// crashWriters goroutines write
// until the process is killed; one commit in crashFailEvery fails, and is
// tried again. Writer g's n-th transaction creates item
// g-n and sets counter-g to n, atomically; once Update returns, it prints
// "ok g n revision".
func runChildWrite(path string) int {
	// Some commits fail, as on a full disk, so that kills land after
	// failures too: their revisions are skipped.
	var rngMu sync.Mutex
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(os.Getpid())))
	s, err := bolt.OpenHooked(path, bolt.Hooks{BeforeCommit: func(int) error {
		rngMu.Lock()
		defer rngMu.Unlock()
		if rng.IntN(crashFailEvery) == 0 {
			return errCrashInjected
		}
		return nil
	}}, bolt.WithCodec(itemCodec()), bolt.WithHistory(crashHistory), bolt.WithWatchBuffer(8),
		bolt.WithLockTimeout(30*time.Second), bolt.WithSegmentSize(4<<10))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var out sync.Mutex
	var wg sync.WaitGroup
	for g := range crashWriters {
		wg.Go(func() {
			for {
				var n, rev int64
				err := s.Update(context.Background(), func(tx store.Tx) error {
					cur, err := store.Get[*storetest.Item](tx, storetest.KindB, counterID(g))
					switch {
					case errors.Is(err, store.ErrNotFound):
						n = 0
						err = tx.Create(item(storetest.KindB, counterID(g), 0))
					case err == nil:
						next := cur.Clone()
						n = int64(cur.Value) + 1
						next.Value = int(n)
						err = tx.Update(next)
					}
					if err != nil {
						return err
					}
					created := item(storetest.KindA, itemID(g, n), int(n))
					if err := tx.Create(created); err != nil {
						return err
					}
					rev = created.ModRevision
					return nil
				})
				if errors.Is(err, errCrashInjected) {
					continue // not acknowledged: try again
				}
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
				out.Lock()
				_, _ = os.Stdout.WriteString(fmt.Sprintf("ok %d %d %d\n", g, n, rev))
				out.Unlock()
			}
		})
	}
	wg.Wait()
	return 0
}

func counterID(g int) string       { return fmt.Sprintf("counter-%d", g) }
func itemID(g int, n int64) string { return fmt.Sprintf("%d-%08d", g, n) }

// TestCrashSafety runs a writer process, kills it with SIGKILL at a random
// point (sometimes before it opened the file, usually in the middle of
// group commits), reopens the file and checks that every transaction the
// writer saw commit is there, whole, with its revision; that nothing was
// half-written; and that revisions only go up. It repeats on the same
// file -bolt.crash-iterations times (STEVEDORE_CRASH_ITERATIONS for long
// runs), with the seed printed.
func TestCrashSafety(t *testing.T) {
	t.Parallel()
	seed := *crashSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -bolt.crash-seed=%d), %d iterations", seed, seed, *crashIterations)
	rng := rand.New(rand.NewPCG(seed, seed))
	path := filepath.Join(t.TempDir(), "state.db")

	var lastRev int64
	events := 0 // acknowledged so far, over every iteration
	for i := range *crashIterations {
		killAfter := rng.IntN(200) // acknowledged commits before the kill
		if rng.IntN(10) == 0 {
			killAfter = 0 // kill right away: during start-up, or creating the file
		}
		acked := crashOnce(t, path, killAfter)

		s, err := bolt.Open(path, bolt.WithCodec(itemCodec()))
		require.NoError(t, err, "seed %d iteration %d: reopening after the kill", seed, i)
		rev := revision(t, s)
		require.GreaterOrEqual(t, rev, lastRev, "seed %d iteration %d: the revision went back", seed, i)
		where := fmt.Sprintf("seed %d iteration %d", seed, i)
		checkCrash(t, s, acked, lastRev, where)
		lastRev = rev
		require.NoError(t, s.Close())
		events += 2 * len(acked)
		checkCrashHistory(t, path, min(events, crashHistory), where)
	}
}

// checkCrashHistory checks the history the log holds after a kill: at
// least want events (the child's history, once it wrote as many), each
// with the previous version of its object, as a watch from its start
// delivers them.
func checkCrashHistory(t *testing.T, path string, want int, where string) {
	t.Helper()
	n, err := bolt.LogEvents(path)
	require.NoError(t, err, where)
	require.GreaterOrEqual(t, n, want, "%s: the log holds too little history", where)
	if n == 0 {
		return
	}
	checkpoint := fileCheckpoint(t, path)
	s, err := bolt.Open(path, bolt.WithCodec(itemCodec()))
	require.NoError(t, err, where)
	defer func() { require.NoError(t, s.Close()) }()
	w, err := s.Watch(t.Context(), checkpoint)
	require.NoError(t, err, "%s: a watch from the checkpoint", where)
	defer w.Close()
	for _, ev := range recvAll(t, w, n) {
		obj := ev.Object.(*storetest.Item)
		require.Equal(t, ev.Revision, obj.ModRevision, where)
		switch {
		case ev.Type == store.Created:
			require.Nil(t, ev.Prev, "%s: %+v", where, ev)
		case ev.Type == store.Updated && ev.Kind == storetest.KindB:
			prev, ok := ev.Prev.(*storetest.Item)
			require.True(t, ok, "%s: %+v has no previous version", where, ev)
			require.Equal(t, obj.Value-1, prev.Value, "%s: %+v", where, ev)
			require.Less(t, prev.ModRevision, ev.Revision, where)
		default:
			require.Failf(t, "unexpected event", "%s: %+v", where, ev)
		}
	}
}

// ack is a commit the child saw return.
type ack struct {
	g   int
	n   int64
	rev int64
}

// crashOnce runs the writer and kills it after killAfter acknowledged
// commits, returning every commit it acknowledged.
func crashOnce(t *testing.T, path string, killAfter int) []ack {
	t.Helper()
	cmd := child(t, childWrite, path)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr syncBuffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())

	var acked []ack
	lines := bufio.NewScanner(stdout)
	killed := false
	kill := func() {
		if !killed {
			require.NoError(t, cmd.Process.Kill()) // SIGKILL
			killed = true
		}
	}
	if killAfter == 0 {
		kill()
	}
	for lines.Scan() {
		var a ack
		_, err := fmt.Sscanf(lines.Text(), "ok %d %d %d", &a.g, &a.n, &a.rev)
		require.NoError(t, err, "child said %q", lines.Text())
		acked = append(acked, a)
		if len(acked) >= killAfter {
			kill()
		}
	}
	kill() // the child ended by itself: that is a failure, reported by Wait
	err = cmd.Wait()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "stderr: %s", stderr.String())
	require.Equal(t, syscall.SIGKILL, exit.Sys().(syscall.WaitStatus).Signal(), "stderr: %s", stderr.String())
	return acked
}

// checkCrash checks the reopened store against what the child
// acknowledged.
func checkCrash(t *testing.T, s *bolt.Store, acked []ack, before int64, where string) {
	t.Helper()
	counters := items(t, s, storetest.KindB)
	all := items(t, s, storetest.KindA)
	rev := revision(t, s)
	for _, a := range acked {
		it, ok := all[itemID(a.g, a.n)]
		require.True(t, ok, "%s: acknowledged commit %+v lost", where, a)
		require.Equal(t, a.rev, it.ModRevision, "%s: %+v", where, a)
		require.Greater(t, a.rev, before, "%s: revision %d reused after a restart", where, a.rev)
		require.LessOrEqual(t, a.rev, rev, where)
	}
	// Each transaction wrote an item and its writer's counter together:
	// writer g's items are exactly 0..counter, nothing half-written.
	perWriter := map[int]int{}
	for id, it := range all {
		var g int
		var n int64
		_, err := fmt.Sscanf(id, "%d-%d", &g, &n)
		require.NoError(t, err)
		perWriter[g]++
		c, ok := counters[counterID(g)]
		require.True(t, ok, "%s: item %s without its counter", where, id)
		require.LessOrEqual(t, n, int64(c.Value), "%s: item %s beyond counter %d", where, id, c.Value)
		require.GreaterOrEqual(t, c.ModRevision, it.ModRevision, where)
	}
	for id, c := range counters {
		var g int
		_, err := fmt.Sscanf(id, "counter-%d", &g)
		require.NoError(t, err)
		assert.Equal(t, c.Value+1, perWriter[g], "%s: writer %d's items and counter disagree", where, g)
	}
}

// syncBuffer is a bytes.Buffer safe for the child's stderr copier and the
// test to use together.
type syncBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
