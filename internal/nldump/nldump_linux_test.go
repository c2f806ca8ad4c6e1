package nldump_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stevedore-io/stevedore/internal/nldump"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
)

// interrupted returns a dump that is interrupted n times, then returns
// "links", and counts its calls.
func interrupted(n int, calls *int) func() (string, error) {
	return func() (string, error) {
		*calls++
		if *calls <= n {
			return "partial", fmt.Errorf("link list: %w", netlink.ErrDumpInterrupted)
		}
		return "links", nil
	}
}

func TestRetry(t *testing.T) {
	t.Parallel()
	t.Run("uninterrupted", func(t *testing.T) {
		t.Parallel()
		calls := 0
		v, err := nldump.Retry(interrupted(0, &calls))
		require.NoError(t, err)
		assert.Equal(t, "links", v)
		assert.Equal(t, 1, calls)
	})
	t.Run("interrupted, then whole", func(t *testing.T) {
		t.Parallel()
		calls := 0
		v, err := nldump.Retry(interrupted(nldump.Retries-1, &calls))
		require.NoError(t, err)
		assert.Equal(t, "links", v)
		assert.Equal(t, nldump.Retries, calls)
	})
	t.Run("interrupted every time", func(t *testing.T) {
		t.Parallel()
		calls := 0
		v, err := nldump.Retry(interrupted(nldump.Retries, &calls))
		require.ErrorIs(t, err, netlink.ErrDumpInterrupted)
		assert.Equal(t, "partial", v, "the last call's answer")
		assert.Equal(t, nldump.Retries, calls)
	})
	t.Run("other errors are not retried", func(t *testing.T) {
		t.Parallel()
		calls := 0
		boom := errors.New("boom")
		_, err := nldump.Retry(func() (int, error) { calls++; return 0, boom })
		require.ErrorIs(t, err, boom)
		assert.Equal(t, 1, calls)
	})
}
