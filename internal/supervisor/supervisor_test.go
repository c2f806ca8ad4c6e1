package supervisor_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/stevedore-io/stevedore/internal/supervisor"
)

func TestSupervisorRestartsAComponentThatFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := supervisor.New(nil)
		t.Cleanup(s.Stop)
		var runs atomic.Int32
		s.Go("flaky", supervisor.Func(func(ctx context.Context) error {
			if runs.Add(1) < 3 {
				return errors.New("boom")
			}
			<-ctx.Done()
			return nil
		}), time.Second)
		synctest.Wait()
		assert.Equal(t, int32(1), runs.Load())
		time.Sleep(time.Second)
		synctest.Wait()
		assert.Equal(t, int32(2), runs.Load(), "restarted after the delay")
		time.Sleep(time.Hour)
		synctest.Wait()
		assert.Equal(t, int32(3), runs.Load(), "runs for good once it does not fail")
	})
}

func TestSupervisorStopEndsEveryComponent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := supervisor.New(nil)
		var ended atomic.Int32
		for range 3 {
			s.Go("loop", supervisor.Func(func(ctx context.Context) error {
				<-ctx.Done()
				ended.Add(1)
				return ctx.Err()
			}), time.Second)
		}
		s.Stop()
		assert.Equal(t, int32(3), ended.Load(), "Stop waits for them")
	})
}

func TestHandleStopsOneComponent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := supervisor.New(nil)
		t.Cleanup(s.Stop)
		var a, b atomic.Bool
		ha := s.Go("a", supervisor.Func(func(ctx context.Context) error { <-ctx.Done(); a.Store(true); return nil }), time.Second)
		s.Go("b", supervisor.Func(func(ctx context.Context) error { <-ctx.Done(); b.Store(true); return nil }), time.Second)
		ha.Stop()
		assert.True(t, a.Load())
		assert.False(t, b.Load(), "the others run on")
		<-ha.Done()
	})
}

func TestRunOnceIsNotRestarted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := supervisor.New(nil)
		t.Cleanup(s.Stop)
		var runs atomic.Int32
		h := s.Go("once", supervisor.Func(func(context.Context) error { runs.Add(1); return nil }), -1)
		<-h.Done()
		time.Sleep(time.Hour)
		synctest.Wait()
		assert.Equal(t, int32(1), runs.Load())
	})
}

func TestStartAfterStopFailsWithErrStopped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := supervisor.New(nil)
		s.Stop()
		var ran atomic.Bool
		h, err := s.Start("late", supervisor.Func(func(context.Context) error { ran.Store(true); return nil }), -1)
		assert.ErrorIs(t, err, supervisor.ErrStopped)
		assert.Nil(t, h)
		// Go, for callers that do not ask, gives a handle that is done.
		<-s.Go("late", supervisor.Func(func(context.Context) error { ran.Store(true); return nil }), -1).Done()
		synctest.Wait()
		assert.False(t, ran.Load(), "nothing runs after Stop")
	})
}
