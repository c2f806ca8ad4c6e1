package agent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/runtime"
)

// TestEngineFollowsCalls: a call that cannot reach the engine begins an
// outage, other errors do not, and only a success of a call begun during
// the outage ends it (one that began before may carry an answer older
// than the outage).
func TestEngineFollowsCalls(t *testing.T) {
	t.Parallel()
	e := newEngine()
	unavailable := fmt.Errorf("exec in container %q: %w: connection refused", "web", runtime.ErrUnavailable)

	e.report(e.begin(), errors.New("container not running"))
	outage, _ := e.state()
	assert.Nil(t, outage, "the engine answered that error")

	before := e.begin()
	e.report(e.begin(), unavailable)
	outage, up := e.state()
	require.NotNil(t, outage)
	assert.Equal(t, unavailable.Error(), outage.Reason)
	assert.False(t, outage.Since.IsZero())
	select {
	case <-up:
		t.Fatal("up during an outage")
	default:
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	assert.ErrorIs(t, e.wait(ctx), context.Canceled)

	e.report(e.begin(), unavailable)
	again, _ := e.state()
	assert.Same(t, outage, again, "one outage, kept from its start")
	e.report(before, nil)
	again, _ = e.state()
	assert.NotNil(t, again, "a success begun before the outage does not end it")
	e.report(e.begin(), context.DeadlineExceeded)
	again, _ = e.state()
	assert.NotNil(t, again, "a timeout says nothing")

	e.report(e.begin(), nil)
	outage, _ = e.state()
	assert.Nil(t, outage)
	<-up
	assert.NoError(t, e.wait(t.Context()))

	long := fmt.Errorf("%w: %s", runtime.ErrUnavailable, strings.Repeat("x", 2*maxOutageReason))
	e.report(e.begin(), long)
	outage, _ = e.state()
	require.NotNil(t, outage)
	assert.Len(t, outage.Reason, maxOutageReason)

	e.report(e.begin(), nil)
	wide := fmt.Errorf("%w: %s", runtime.ErrUnavailable, strings.Repeat("é", maxOutageReason))
	e.report(e.begin(), wide)
	outage, _ = e.state()
	require.NotNil(t, outage)
	assert.LessOrEqual(t, len(outage.Reason), maxOutageReason)
	assert.True(t, utf8.ValidString(outage.Reason), "cut at a character boundary")
}
