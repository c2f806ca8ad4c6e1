package fake_test

// This file shows how to test time-dependent code with the fake inside a
// testing/synctest bubble. (Examples cannot take a *testing.T, so it is a
// test.) The code under test is a tiny supervisor that restarts a crashing
// container after a growing delay and stops it gracefully: SIGTERM, then
// SIGKILL after a timeout, as an agent does with ECS's stopTimeout.

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/runtime"
	"github.com/stevedore-io/stevedore/runtime/fake"
)

// supervise runs spec until ctx ends, recreating it after every exit with a
// delay that doubles from one second. It returns the exit codes it saw.
func supervise(ctx context.Context, rt runtime.Runtime, spec runtime.ContainerSpec) ([]int, error) {
	var codes []int
	delay := time.Second
	for attempt := 1; ; attempt++ {
		s := spec
		s.ID = fmt.Sprintf("%s-%d", spec.ID, attempt)
		if err := rt.Create(ctx, s); err != nil {
			return codes, err
		}
		ch, err := rt.Wait(ctx, s.ID)
		if err != nil {
			return codes, err
		}
		if err := rt.Start(ctx, s.ID); err != nil {
			return codes, err
		}
		st := <-ch
		if st.Err != nil {
			return codes, nil // ctx ended
		}
		codes = append(codes, st.Code)
		if err := rt.Delete(ctx, s.ID); err != nil {
			return codes, err
		}
		select {
		case <-time.After(delay):
			delay *= 2
		case <-ctx.Done():
			return codes, nil
		}
	}
}

// stop ends container id: SIGTERM, then SIGKILL when it has not exited after
// timeout.
func stop(ctx context.Context, rt runtime.Runtime, id string, timeout time.Duration) (int, error) {
	ch, err := rt.Wait(ctx, id)
	if err != nil {
		return 0, err
	}
	if err := rt.Signal(ctx, id, syscall.SIGTERM); err != nil && !errors.Is(err, runtime.ErrNotRunning) {
		return 0, err
	}
	select {
	case st := <-ch:
		return st.Code, st.Err
	case <-time.After(timeout):
	}
	if err := rt.Signal(ctx, id, syscall.SIGKILL); err != nil && !errors.Is(err, runtime.ErrNotRunning) {
		return 0, err
	}
	st := <-ch
	return st.Code, st.Err
}

func TestUsingTheFakeWithSynctest(t *testing.T) {
	t.Run("restarts a crashing container with backoff", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			// Build the fake inside the bubble, so that its timers use the
			// bubble's virtual clock. The container crashes after 30 s.
			rt := fake.New(
				fake.WithLocalImages("web:1"),
				fake.WithImage("web:1", fake.Behavior{RunFor: 30 * time.Second, ExitCode: 1}),
			)
			t.Cleanup(rt.Close)

			// Two and a half minutes of virtual time pass in an instant.
			ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
			defer cancel()
			begin := time.Now()
			codes, err := supervise(ctx, rt, runtime.ContainerSpec{ID: "web", Image: "web:1"})
			require.NoError(t, err)

			// Each run crashes after 30 s and the restarts wait 1, 2, 4 and
			// 8 s: starts at 0, 31, 63, 97 and 135 s. The fifth run is cut
			// short by ctx at 150 s.
			assert.Equal(t, []int{1, 1, 1, 1}, codes)
			var startedAt []time.Duration
			for _, c := range rt.CallsTo(fake.MethodStart) {
				startedAt = append(startedAt, c.Time.Sub(begin))
			}
			assert.Equal(t, []time.Duration{0, 31 * time.Second, 63 * time.Second, 97 * time.Second, 135 * time.Second}, startedAt)
		})
	})

	t.Run("SIGKILL after the stop timeout", func(t *testing.T) {
		tests := []struct {
			name    string
			command []string
			init    bool
			code    int
			takes   time.Duration
		}{
			// busybox sleep as PID 1 ignores SIGTERM: stop waits out the
			// timeout and kills it.
			{"sleep ignores SIGTERM", []string{"sleep", "infinity"}, false, 137, 30 * time.Second},
			// With an init process, SIGTERM reaches sleep and kills it.
			{"init forwards SIGTERM", []string{"sleep", "infinity"}, true, 143, 0},
			// A trap runs at the end of the current sleep of the loop.
			{"trap exits cleanly", []string{"sh", "-c", `trap "exit 0" TERM; while true; do sleep 5; done`}, false, 0, 3 * time.Second},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					rt := fake.New(fake.WithLocalImages("busybox"))
					t.Cleanup(rt.Close)
					ctx := context.Background()
					spec := runtime.ContainerSpec{ID: "c", Image: "busybox", Command: tt.command, Init: tt.init}
					require.NoError(t, rt.Create(ctx, spec))
					require.NoError(t, rt.Start(ctx, "c"))

					time.Sleep(12 * time.Second) // in the third iteration of the loop
					begin := time.Now()
					code, err := stop(ctx, rt, "c", 30*time.Second)
					require.NoError(t, err)
					assert.Equal(t, tt.code, code)
					assert.Equal(t, tt.takes, time.Since(begin))
				})
			})
		}
	})

	t.Run("health turns bad after a minute", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			rt := fake.New(
				fake.WithLocalImages("api:1"),
				fake.WithImage("api:1", fake.Behavior{Exec: fake.HealthyFor(time.Minute)}),
			)
			t.Cleanup(rt.Close)
			ctx := context.Background()
			require.NoError(t, rt.Create(ctx, runtime.ContainerSpec{ID: "api", Image: "api:1", Command: []string{"sleep", "infinity"}}))
			require.NoError(t, rt.Start(ctx, "api"))

			// A health checker probing every 30 s sees healthy, healthy,
			// then unhealthy from the minute on.
			var codes []int
			for range 4 {
				res, err := rt.Exec(ctx, "api", []string{"sh", "-c", "curl -f localhost || exit 1"})
				require.NoError(t, err)
				codes = append(codes, res.ExitCode)
				time.Sleep(30 * time.Second)
			}
			assert.Equal(t, []int{0, 0, 1, 1}, codes)
		})
	})
}
