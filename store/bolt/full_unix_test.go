//go:build unix

package bolt_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/store/bolt"
	"github.com/stevedore-io/stevedore/store/storetest"
)

// runChildFull limits the size of files this process may write to the size
// the store's file has (the kernel then refuses to grow it, as on a full
// disk), writes large objects until a commit fails, and checks that
// nothing of the failed transaction is visible. It prints "ok id revision"
// per commit, then "failed: error", "invisible" or "visible", and "log cut
// back" if the log is as long as before the failed commit.
func runChildFull(path string) int {
	info, err := os.Stat(path)
	if err != nil {
		fmt.Println(err)
		return 1
	}
	signal.Ignore(syscall.SIGXFSZ) // get EFBIG rather than die
	limit := uint64(info.Size())
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: limit, Max: limit}); err != nil {
		fmt.Println(err)
		return 1
	}
	s, err := bolt.Open(path, bolt.WithCodec(itemCodec()))
	if err != nil {
		fmt.Println(err)
		return 1
	}
	defer s.Close()
	ctx := context.Background()
	big := strings.Repeat("x", 16<<10) // a key fills pages quicker than a value would
	for i := range 10_000 {
		id := fmt.Sprintf("big-%05d-%s", i, big)
		obj := item(storetest.KindA, id, i)
		before := logSize(path)
		err := s.Update(ctx, func(tx store.Tx) error {
			if err := tx.Create(obj); err != nil {
				return err
			}
			return tx.Create(item(storetest.KindB, fmt.Sprint(i), i))
		})
		if err != nil {
			msg := err.Error()
			fmt.Printf("failed: %s\n", msg[:min(len(msg), 1000)])
			err := s.View(ctx, func(tx store.ReadTx) error {
				_, errA := tx.Get(storetest.KindA, id)
				_, errB := tx.Get(storetest.KindB, fmt.Sprint(i))
				if errors.Is(errA, store.ErrNotFound) && errors.Is(errB, store.ErrNotFound) {
					fmt.Println("invisible")
				} else {
					fmt.Println("visible")
				}
				return nil
			})
			if err != nil {
				fmt.Println(err)
			}
			fmt.Printf("meta %+v\n", obj.Meta)
			if logSize(path) == before {
				fmt.Println("log cut back")
			}
			return 0
		}
		fmt.Printf("ok %d %d\n", i, obj.ModRevision)
	}
	fmt.Println("never failed")
	return 0
}

// logSize is the size of the segments of the log of the state file at
// path, or -1.
func logSize(path string) int64 {
	segs, err := bolt.LogSegments(path)
	if err != nil {
		return -1
	}
	var n int64
	for _, seg := range segs {
		info, err := os.Stat(seg)
		if err != nil {
			return -1
		}
		n += info.Size()
	}
	return n
}

// TestDiskFull checks that a commit that cannot grow the log fails with an
// error naming the file, that the failed write is cut off the log, that
// nothing of it is visible then or after a restart, and that everything
// committed before it is kept.
func TestDiskFull(t *testing.T) {
	t.Parallel()
	path := fileWith(t, item(storetest.KindB, "before", 0))
	out, err := child(t, childFull, path).CombinedOutput()
	require.NoError(t, err, "%s", out)
	committed := map[int]int64{}
	var failure string
	lines := bufio.NewScanner(bytes.NewReader(out))
	for lines.Scan() {
		line := lines.Text()
		var i int
		var rev int64
		switch {
		case strings.HasPrefix(line, "ok "):
			_, err := fmt.Sscanf(line, "ok %d %d", &i, &rev)
			require.NoError(t, err)
			committed[i] = rev
		case strings.HasPrefix(line, "failed: "):
			failure = line
		}
	}
	require.NotEmpty(t, failure, "%s", out)
	t.Log(failure)
	assert.Contains(t, failure, path, "the error names the file")
	assert.Contains(t, string(out), "invisible\n", "nothing of the failed commit is visible")
	assert.Contains(t, string(out), "log cut back\n", "the failed write was cut off the log")
	assert.Contains(t, string(out), "meta {CreateRevision:0 ModRevision:0}", "the failed Create gave the object its Meta back")

	s := open(t, path)
	got := items(t, s, storetest.KindB)
	assert.Contains(t, got, "before")
	assert.Len(t, got, len(committed)+1, "only what committed is in the file")
	for i, rev := range committed {
		assert.Equal(t, rev, got[fmt.Sprint(i)].ModRevision)
	}
	after := create(t, s, item(storetest.KindB, "after", 0))
	assert.Greater(t, after, int64(len(committed)+1), "revisions go on after the failure")
}
