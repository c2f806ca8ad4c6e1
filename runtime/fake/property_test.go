package fake_test

import (
	"context"
	"fmt"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/stevedore-io/stevedore/runtime"
	"github.com/stevedore-io/stevedore/runtime/fake"
)

// model is what the runtime contract says about one container.
type model struct {
	state    runtime.State
	exitCode int
	// exitsWith is the code a started container exits with at once; -1
	// when it runs until killed.
	exitsWith int
}

// TestLifecycleProperty drives the fake with random sequences of calls and
// checks every result against a model of the runtime contract: states,
// sentinel errors, exit codes, and Wait channels that deliver one status and
// close.
func TestLifecycleProperty(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ids := []string{"a", "b", "c"}
	commands := []struct {
		argv []string
		code int // -1: runs until killed
	}{
		{[]string{"sleep", "infinity"}, -1},
		{[]string{"true"}, 0},
		{[]string{"sh", "-c", "exit 3"}, 3},
		{[]string{"sh", "-c", `trap "exit 0" TERM; while true; do sleep 1000; done`}, -1},
	}

	rapid.Check(t, func(t *rapid.T) {
		rt := fake.New(fake.WithLocalImages("img"))
		defer rt.Close()
		containers := map[string]*model{}
		var pending []<-chan runtime.ExitStatus // Wait channels of running containers

		expect := func(err, want error, what string) {
			if want == nil {
				require.NoError(t, err, what)
				return
			}
			require.ErrorIs(t, err, want, what)
		}
		// notRunning is the error for calls that need a running container.
		notRunning := func(m *model) error {
			switch {
			case m == nil:
				return runtime.ErrNotFound
			case m.state != runtime.StateRunning:
				return runtime.ErrNotRunning
			}
			return nil
		}

		t.Repeat(map[string]func(*rapid.T){
			"create": func(t *rapid.T) {
				id := rapid.SampledFrom(ids).Draw(t, "id")
				c := rapid.IntRange(0, len(commands)-1).Draw(t, "command")
				err := rt.Create(ctx, runtime.ContainerSpec{ID: id, Image: "img", Command: commands[c].argv})
				if containers[id] != nil {
					expect(err, runtime.ErrAlreadyExists, "Create "+id)
					return
				}
				expect(err, nil, "Create "+id)
				containers[id] = &model{state: runtime.StateCreated, exitsWith: commands[c].code}
			},
			"start": func(t *rapid.T) {
				id := rapid.SampledFrom(ids).Draw(t, "id")
				m := containers[id]
				if m != nil && m.state == runtime.StateCreated {
					ch, err := rt.Wait(ctx, id)
					require.NoError(t, err)
					pending = append(pending, ch)
				}
				err := rt.Start(ctx, id)
				switch {
				case m == nil:
					expect(err, runtime.ErrNotFound, "Start "+id)
				case m.state != runtime.StateCreated:
					expect(err, runtime.ErrAlreadyStarted, "Start "+id)
				default:
					expect(err, nil, "Start "+id)
					m.state = runtime.StateRunning
					if m.exitsWith >= 0 {
						m.state, m.exitCode = runtime.StateStopped, m.exitsWith
					}
				}
			},
			"kill": func(t *rapid.T) {
				id := rapid.SampledFrom(ids).Draw(t, "id")
				m := containers[id]
				err := rt.Signal(ctx, id, syscall.SIGKILL)
				expect(err, notRunning(m), "SIGKILL "+id)
				if err == nil {
					m.state, m.exitCode = runtime.StateStopped, 137
				}
			},
			"term": func(t *rapid.T) {
				// Neither command that runs until killed stops at once
				// on SIGTERM: sleep as PID 1 ignores it, the shell's trap
				// waits for the end of a long sleep.
				id := rapid.SampledFrom(ids).Draw(t, "id")
				expect(rt.Signal(ctx, id, syscall.SIGTERM), notRunning(containers[id]), "SIGTERM "+id)
			},
			"exec": func(t *rapid.T) {
				id := rapid.SampledFrom(ids).Draw(t, "id")
				res, err := rt.Exec(ctx, id, []string{"sh", "-c", "echo hi; exit 4"})
				expect(err, notRunning(containers[id]), "Exec "+id)
				if err == nil {
					require.Equal(t, runtime.ExecResult{ExitCode: 4, Output: []byte("hi\n")}, res)
				}
			},
			"stats": func(t *rapid.T) {
				id := rapid.SampledFrom(ids).Draw(t, "id")
				_, err := rt.Stats(ctx, id)
				expect(err, notRunning(containers[id]), "Stats "+id)
			},
			"delete": func(t *rapid.T) {
				id := rapid.SampledFrom(ids).Draw(t, "id")
				err := rt.Delete(ctx, id)
				if containers[id] == nil {
					expect(err, runtime.ErrNotFound, "Delete "+id)
					return
				}
				expect(err, nil, "Delete "+id)
				delete(containers, id)
			},
			"wait stopped": func(t *rapid.T) {
				id := rapid.SampledFrom(ids).Draw(t, "id")
				m := containers[id]
				if m == nil || m.state != runtime.StateStopped {
					return
				}
				ch, err := rt.Wait(ctx, id)
				require.NoError(t, err)
				st, ok := <-ch
				require.True(t, ok)
				require.Equal(t, m.exitCode, st.Code)
				_, ok = <-ch
				require.False(t, ok, "closed after one status")
			},
			"": func(t *rapid.T) {
				list, err := rt.List(ctx, nil)
				require.NoError(t, err)
				require.Len(t, list, len(containers))
				for i, info := range list {
					if i > 0 {
						require.Less(t, list[i-1].ID, info.ID, "List in ID order")
					}
					m := containers[info.ID]
					require.NotNil(t, m, "unexpected container %q", info.ID)
					require.Equal(t, m.state, info.State, info.ID)
					if m.state == runtime.StateStopped {
						require.Equal(t, m.exitCode, info.ExitCode, info.ID)
					}
				}
				// Every Wait channel whose container stopped (or was
				// deleted) has delivered exactly one status and closed.
				kept := pending[:0]
				for _, ch := range pending {
					select {
					case st, ok := <-ch:
						require.True(t, ok)
						if _, open := <-ch; open {
							require.Fail(t, "second status", fmt.Sprint(st))
						}
					default:
						kept = append(kept, ch)
					}
				}
				pending = kept
			},
		})
	})
}
