package fake_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/runtime"
	"github.com/stevedore-io/stevedore/runtime/fake"
)

const image = "busybox:1.36"

// Linux signal numbers missing from package syscall on some systems.
const (
	sigUSR1 = syscall.Signal(10)
	sigCHLD = syscall.Signal(17)
)

// buffer is an io.Writer safe for the fake's goroutines and the test's.
type buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func newRuntime(t *testing.T, opts ...fake.Option) *fake.Runtime {
	t.Helper()
	rt := fake.New(opts...)
	t.Cleanup(rt.Close)
	return rt
}

// run pulls spec's image, creates and starts the container, and returns a
// Wait channel obtained before the start.
func run(t *testing.T, rt *fake.Runtime, spec runtime.ContainerSpec) <-chan runtime.ExitStatus {
	t.Helper()
	ctx := context.Background()
	if spec.Image == "" {
		spec.Image = image
	}
	require.NoError(t, rt.EnsureImage(ctx, spec.Image, nil))
	require.NoError(t, rt.Create(ctx, spec))
	ch, err := rt.Wait(ctx, spec.ID)
	require.NoError(t, err)
	require.NoError(t, rt.Start(ctx, spec.ID))
	return ch
}

func cmd(id string, argv ...string) runtime.ContainerSpec {
	return runtime.ContainerSpec{ID: id, Image: image, Command: argv}
}

func state(t *testing.T, rt *fake.Runtime, id string) runtime.State {
	t.Helper()
	info, err := rt.Inspect(context.Background(), id)
	require.NoError(t, err)
	return info.State
}

func TestScriptedProcess(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		b        fake.Behavior
		argv     []string
		runs     time.Duration
		exitCode int
	}{
		{"run for then exit", fake.Behavior{RunFor: 10 * time.Second, ExitCode: 1}, []string{"sleep", "infinity"}, 10 * time.Second, 1},
		{"crash at once", fake.Behavior{ExitCode: 3}, []string{"sleep", "infinity"}, 0, 3},
		{"clean exit at once", fake.Behavior{RunFor: time.Nanosecond}, []string{"sleep", "infinity"}, time.Nanosecond, 0},
		{"zero behaviour: the command decides", fake.Behavior{}, []string{"sh", "-c", "sleep 7; exit 2"}, 7 * time.Second, 2},
		{"scripted output does not change the command", fake.Behavior{Stdout: []string{"hi"}}, []string{"sleep", "5"}, 5 * time.Second, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				rt := newRuntime(t, fake.WithImage(image, tt.b))
				start := time.Now()
				st := <-run(t, rt, cmd("c1", tt.argv...))
				require.NoError(t, st.Err)
				assert.Equal(t, tt.exitCode, st.Code)
				assert.Equal(t, tt.runs, time.Since(start))
				c, ok := rt.Container("c1")
				require.True(t, ok)
				assert.Equal(t, tt.runs, c.Info.ExitedAt.Sub(c.Info.StartedAt))
				assert.Equal(t, runtime.StateStopped, c.Info.State)
			})
		})
	}
}

func TestSignals(t *testing.T) {
	t.Parallel()
	forever := fake.Behavior{RunFor: fake.Forever}
	tests := []struct {
		name string
		b    fake.Behavior
		spec runtime.ContainerSpec
		sig  syscall.Signal
		// code is the exit code; -1 means the signal is ignored.
		code  int
		after time.Duration
	}{
		{"scripted process dies of SIGTERM", forever, cmd("c"), syscall.SIGTERM, 143, 0},
		{"scripted process dies of SIGINT", forever, cmd("c"), syscall.SIGINT, 130, 0},
		{"SIGKILL", forever, cmd("c"), syscall.SIGKILL, 137, 0},
		{"SIGCHLD does nothing", forever, cmd("c"), sigCHLD, -1, 0},
		{
			"graceful shutdown",
			fake.Behavior{RunFor: fake.Forever, Signals: map[syscall.Signal]fake.Reaction{syscall.SIGTERM: {ExitCode: 0, After: 2 * time.Second}}},
			cmd("c"), syscall.SIGTERM, 0, 2 * time.Second,
		},
		{
			"script ignores SIGTERM",
			fake.Behavior{Signals: map[syscall.Signal]fake.Reaction{syscall.SIGTERM: {Ignore: true}}},
			withInit(cmd("c", "sleep", "infinity")), syscall.SIGTERM, -1, 0,
		},
		{
			"script reaction over the command's",
			fake.Behavior{Signals: map[syscall.Signal]fake.Reaction{syscall.SIGTERM: {ExitCode: 5}}},
			cmd("c", "sleep", "infinity"), syscall.SIGTERM, 5, 0,
		},
		{
			"script cannot catch SIGKILL",
			fake.Behavior{Signals: map[syscall.Signal]fake.Reaction{syscall.SIGKILL: {Ignore: true}}},
			cmd("c", "sleep", "infinity"), syscall.SIGKILL, 137, 0,
		},
		{"busybox sleep as PID 1 ignores SIGTERM", fake.Behavior{}, cmd("c", "sleep", "3600"), syscall.SIGTERM, -1, 0},
		{"sleep under an init process dies", fake.Behavior{}, withInit(cmd("c", "sleep", "3600")), syscall.SIGTERM, 143, 0},
		{"unknown program dies of SIGTERM", fake.Behavior{}, cmd("c", "/app/server"), syscall.SIGTERM, 143, 0},
		{
			"shell trap runs after the loop's sleep",
			fake.Behavior{}, cmd("c", "sh", "-c", `trap "exit 0" TERM; while true; do sleep 1; done`), syscall.SIGTERM, 0, time.Second,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				rt := newRuntime(t, fake.WithImage(image, tt.b))
				ch := run(t, rt, tt.spec)
				ctx := context.Background()
				require.NoError(t, rt.Signal(ctx, "c", tt.sig))
				sent := time.Now()
				if tt.code < 0 {
					time.Sleep(time.Minute)
					require.Equal(t, runtime.StateRunning, state(t, rt, "c"))
					require.NoError(t, rt.Signal(ctx, "c", syscall.SIGKILL))
					require.Equal(t, 137, (<-ch).Code)
					return
				}
				st := <-ch
				assert.Equal(t, tt.code, st.Code)
				assert.Equal(t, tt.after, time.Since(sent))
				c, _ := rt.Container("c")
				require.Len(t, c.Signals, 1)
				assert.Equal(t, tt.sig, c.Signals[0].Signal)
				assert.Equal(t, sent, c.Signals[0].Time)
			})
		})
	}
}

func withInit(spec runtime.ContainerSpec) runtime.ContainerSpec {
	spec.Init = true
	return spec
}

func TestOutputTiming(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		rt := newRuntime(t, fake.WithImage(image, fake.Behavior{Stdout: []string{"scripted"}, Stderr: []string{"warning"}}))
		var stdout, stderr buffer
		spec := cmd("c", "sh", "-c", "echo a; sleep 2; echo b >&2; sleep 1; exit 3")
		spec.Stdout, spec.Stderr = &stdout, &stderr
		ch := run(t, rt, spec)

		assert.Equal(t, "scripted\na\n", stdout.String(), "written by the time Start returns")
		time.Sleep(2500 * time.Millisecond)
		assert.Equal(t, "warning\nb\n", stderr.String())
		st := <-ch
		assert.Equal(t, 3, st.Code)

		c, _ := rt.Container("c")
		assert.Equal(t, "scripted\na\n", c.Stdout)
		assert.Equal(t, "warning\nb\n", c.Stderr)
	})
}

func TestLoopOutputAndTrap(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		rt := newRuntime(t)
		var out buffer
		spec := cmd("c", "sh", "-c", `trap 'echo bye; exit 0' TERM; while true; do echo tick; sleep 1; done`)
		spec.Stdout = &out
		begin := time.Now()
		ch := run(t, rt, spec)
		time.Sleep(2500 * time.Millisecond)
		synctest.Wait()
		assert.Equal(t, strings.Repeat("tick\n", 3), out.String())

		require.NoError(t, rt.Signal(context.Background(), "c", syscall.SIGTERM))
		st := <-ch
		assert.Equal(t, 0, st.Code)
		assert.Equal(t, 3*time.Second, st.ExitedAt.Sub(begin), "at the end of the loop's third sleep")
		assert.Equal(t, strings.Repeat("tick\n", 3)+"bye\n", out.String(), "the handler runs before the next iteration")
	})
}

func TestLongLoopOutput(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		rt := newRuntime(t)
		run(t, rt, cmd("c", "sh", "-c", "while :; do echo tick; sleep 10; done"))
		time.Sleep(time.Hour)
		synctest.Wait() // let the tick due at exactly 1h be written
		c, _ := rt.Container("c")
		assert.Equal(t, 361, strings.Count(c.Stdout, "tick\n"))
		require.NoError(t, rt.Delete(context.Background(), "c"))
	})
}

func TestStart(t *testing.T) {
	t.Parallel()
	errNoBinary := errors.New(`exec: "/app": no such file or directory`)
	t.Run("delay", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			rt := newRuntime(t, fake.WithImage(image, fake.Behavior{StartDelay: 5 * time.Second}))
			begin := time.Now()
			run(t, rt, cmd("c", "sleep", "infinity"))
			assert.Equal(t, 5*time.Second, time.Since(begin))
			assert.Equal(t, runtime.StateRunning, state(t, rt, "c"))
		})
	})
	t.Run("delay beyond the context", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			rt := newRuntime(t, fake.WithImage(image, fake.Behavior{StartDelay: 5 * time.Second}))
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			require.NoError(t, rt.EnsureImage(ctx, image, nil))
			require.NoError(t, rt.Create(ctx, cmd("c", "true")))
			err := rt.Start(ctx, "c")
			require.ErrorIs(t, err, runtime.ErrStart)
			require.ErrorIs(t, err, context.DeadlineExceeded)
			assert.Equal(t, runtime.StateCreated, state(t, rt, "c"))
			// A later Start may succeed.
			require.NoError(t, rt.Start(context.Background(), "c"))
		})
	})
	t.Run("error", func(t *testing.T) {
		t.Parallel()
		rt := newRuntime(t, fake.WithImage(image, fake.Behavior{StartError: errNoBinary}))
		ctx := context.Background()
		require.NoError(t, rt.EnsureImage(ctx, image, nil))
		require.NoError(t, rt.Create(ctx, cmd("c", "/app")))
		for range 2 {
			err := rt.Start(ctx, "c")
			require.ErrorIs(t, err, runtime.ErrStart)
			require.ErrorIs(t, err, errNoBinary)
			assert.Equal(t, runtime.StateCreated, state(t, rt, "c"))
		}
	})
	t.Run("deleted while starting", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			rt := newRuntime(t, fake.WithImage(image, fake.Behavior{StartDelay: time.Second}), fake.WithLocalImages(image))
			ctx := context.Background()
			require.NoError(t, rt.Create(ctx, cmd("c", "true")))
			errc := make(chan error)
			go func() { errc <- rt.Start(ctx, "c") }()
			synctest.Wait()
			require.ErrorIs(t, rt.Start(ctx, "c"), runtime.ErrAlreadyStarted, "a Start is under way")
			require.NoError(t, rt.Delete(ctx, "c"))
			require.ErrorIs(t, <-errc, runtime.ErrNotFound)
		})
	})
}

func TestImages(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	errDenied := errors.New("401 unauthorized")
	t.Run("every image can be pulled", func(t *testing.T) {
		t.Parallel()
		rt := newRuntime(t)
		require.ErrorIs(t, rt.Create(ctx, cmd("c", "true")), runtime.ErrNotFound, "not pulled yet")
		require.NoError(t, rt.EnsureImage(ctx, image, &runtime.Auth{Username: "u", Password: "p"}))
		require.NoError(t, rt.EnsureImage(ctx, image, nil))
		require.NoError(t, rt.Create(ctx, cmd("c", "true")))
		assert.Equal(t, []string{image}, rt.Pulls(), "the second EnsureImage did not pull")
		assert.Equal(t, []string{image}, rt.Images())
		calls := rt.CallsTo(fake.MethodEnsureImage)
		require.Len(t, calls, 2)
		assert.Equal(t, &runtime.Auth{Username: "u", Password: "p"}, calls[0].Auth)
		assert.NotContains(t, calls[0].String(), `"p"`)
		assert.Nil(t, calls[1].Auth)
	})
	t.Run("pull error", func(t *testing.T) {
		t.Parallel()
		rt := newRuntime(t, fake.WithImage("private:1", fake.Behavior{PullError: errDenied}))
		err := rt.EnsureImage(ctx, "private:1", nil)
		require.ErrorIs(t, err, runtime.ErrImagePull)
		require.ErrorIs(t, err, errDenied)
		require.NoError(t, rt.EnsureImage(ctx, "public:1", nil))
		assert.Equal(t, []string{"public:1"}, rt.Pulls())
	})
	t.Run("local images need no pull", func(t *testing.T) {
		t.Parallel()
		rt := newRuntime(t, fake.WithLocalImages(image), fake.WithImage(image, fake.Behavior{PullError: errDenied}))
		require.NoError(t, rt.EnsureImage(ctx, image, nil))
		require.NoError(t, rt.Create(ctx, cmd("c", "true")))
		assert.Empty(t, rt.Pulls())
	})
	t.Run("only local images", func(t *testing.T) {
		t.Parallel()
		rt := newRuntime(t, fake.WithOnlyLocalImages(), fake.WithLocalImages("a:1"))
		require.NoError(t, rt.EnsureImage(ctx, "a:1", nil))
		err := rt.EnsureImage(ctx, "b:1", nil)
		require.ErrorIs(t, err, runtime.ErrImagePull)
		require.ErrorIs(t, err, runtime.ErrNotFound)
		rt.LoadImages("b:1")
		require.NoError(t, rt.EnsureImage(ctx, "b:1", nil))
	})
	t.Run("pull delay", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			rt := newRuntime(t, fake.WithImage(image, fake.Behavior{PullDelay: 30 * time.Second}))
			short, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			err := rt.EnsureImage(short, image, nil)
			require.ErrorIs(t, err, runtime.ErrImagePull)
			require.ErrorIs(t, err, context.DeadlineExceeded)
			begin := time.Now()
			require.NoError(t, rt.EnsureImage(ctx, image, nil))
			assert.Equal(t, 30*time.Second, time.Since(begin))
		})
	})
}

func TestExecScripts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		exec fake.ExecScript
		// at are the times since start of each Exec, codes their codes.
		at    []time.Duration
		codes []int
	}{
		{"fail first", fake.FailFirst(2), []time.Duration{0, 0, 0, 0}, []int{1, 1, 0, 0}},
		{"codes", fake.ExecCodes(1, 0, 1), []time.Duration{0, 0, 0, 0}, []int{1, 0, 1, 1}},
		{"no codes", fake.ExecCodes(), []time.Duration{0}, []int{0}},
		{"healthy for", fake.HealthyFor(30 * time.Second), []time.Duration{0, 29 * time.Second, 30 * time.Second}, []int{0, 0, 1}},
		{"healthy after", fake.HealthyAfter(10 * time.Second), []time.Duration{0, 10 * time.Second}, []int{1, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				rt := newRuntime(t, fake.WithImage(image, fake.Behavior{Exec: tt.exec}))
				run(t, rt, cmd("c", "sleep", "infinity"))
				start := time.Now()
				for i, at := range tt.at {
					time.Sleep(at - time.Since(start))
					res, err := rt.Exec(context.Background(), "c", []string{"curl", "-f", "localhost"})
					require.NoError(t, err)
					assert.Equal(t, tt.codes[i], res.ExitCode, "exec %d at %v", i+1, at)
				}
				c, _ := rt.Container("c")
				assert.Equal(t, len(tt.at), c.Execs)
			})
		})
	}
}

func TestExecScriptFallsBack(t *testing.T) {
	t.Parallel()
	curl := func(c fake.ExecCall) fake.ExecReply {
		if c.Cmd[0] == "curl" {
			return fake.ExecReply{ExitCode: 7, Output: "connection refused"}
		}
		r, known := c.Interpret()
		if !known {
			return fake.ExecReply{ExitCode: 127, Output: "not found"}
		}
		return r
	}
	rt := newRuntime(t, fake.WithImage(image, fake.Behavior{Exec: curl}))
	spec := cmd("c", "sleep", "infinity")
	spec.Env = []string{"FOO=bar"}
	run(t, rt, spec)
	tests := []struct {
		cmd    []string
		code   int
		output string
	}{
		{[]string{"curl", "localhost"}, 7, "connection refused"},
		{[]string{"sh", "-c", "echo $FOO; exit 3"}, 3, "bar\n"},
		{[]string{"wget", "localhost"}, 127, "not found"},
	}
	for _, tt := range tests {
		res, err := rt.Exec(context.Background(), "c", tt.cmd)
		require.NoError(t, err)
		assert.Equal(t, runtime.ExecResult{ExitCode: tt.code, Output: []byte(tt.output)}, res, "%q", tt.cmd)
	}
}

func TestExecTiming(t *testing.T) {
	t.Parallel()
	t.Run("takes its time", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			rt := newRuntime(t)
			run(t, rt, cmd("c", "sleep", "infinity"))
			begin := time.Now()
			res, err := rt.Exec(context.Background(), "c", []string{"sh", "-c", "sleep 2; echo done"})
			require.NoError(t, err)
			assert.Equal(t, "done\n", string(res.Output))
			assert.Equal(t, 2*time.Second, time.Since(begin))
		})
	})
	t.Run("times out", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			slow := func(fake.ExecCall) fake.ExecReply { return fake.ExecReply{Takes: 10 * time.Second} }
			rt := newRuntime(t, fake.WithImage(image, fake.Behavior{Exec: slow}))
			run(t, rt, cmd("c", "sleep", "infinity"))
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			begin := time.Now()
			_, err := rt.Exec(ctx, "c", []string{"check"})
			require.ErrorIs(t, err, context.DeadlineExceeded)
			assert.Equal(t, 5*time.Second, time.Since(begin))
		})
	})
	t.Run("killed with the container", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			rt := newRuntime(t, fake.WithImage(image, fake.Behavior{RunFor: 3 * time.Second, ExitCode: 1}))
			run(t, rt, cmd("c"))
			res, err := rt.Exec(context.Background(), "c", []string{"sleep", "infinity"})
			require.NoError(t, err)
			assert.Equal(t, 137, res.ExitCode)
		})
	})
	t.Run("output is truncated", func(t *testing.T) {
		t.Parallel()
		big := func(fake.ExecCall) fake.ExecReply { return fake.ExecReply{Output: strings.Repeat("x", 10000)} }
		rt := newRuntime(t, fake.WithImage(image, fake.Behavior{Exec: big}))
		run(t, rt, cmd("c", "sleep", "infinity"))
		res, err := rt.Exec(context.Background(), "c", []string{"x"})
		require.NoError(t, err)
		assert.Len(t, res.Output, 4096)
	})
}

func TestWait(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("context ends the wait", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			rt := newRuntime(t)
			ch := run(t, rt, cmd("c", "sleep", "60"))
			short, cancel := context.WithCancel(ctx)
			cut, err := rt.Wait(short, "c")
			require.NoError(t, err)
			cancel()
			st, ok := <-cut
			require.True(t, ok)
			require.ErrorIs(t, st.Err, context.Canceled)
			assert.Equal(t, 255, st.Code)
			_, ok = <-cut
			assert.False(t, ok, "closed after one status")

			st = <-ch
			require.NoError(t, st.Err, "other waiters are not affected")
			assert.Equal(t, 0, st.Code)
		})
	})
	t.Run("done context", func(t *testing.T) {
		t.Parallel()
		rt := newRuntime(t)
		run(t, rt, cmd("c", "true"))
		done, cancel := context.WithCancel(ctx)
		cancel()
		_, err := rt.Wait(done, "c")
		require.ErrorIs(t, err, context.Canceled)
	})
	t.Run("delete before start", func(t *testing.T) {
		t.Parallel()
		rt := newRuntime(t, fake.WithLocalImages(image))
		require.NoError(t, rt.Create(ctx, cmd("c", "true")))
		ch, err := rt.Wait(ctx, "c")
		require.NoError(t, err)
		require.NoError(t, rt.Delete(ctx, "c"))
		st := <-ch
		require.ErrorIs(t, st.Err, runtime.ErrNotFound)
		_, ok := <-ch
		assert.False(t, ok)
	})
	t.Run("many waiters", func(t *testing.T) {
		t.Parallel()
		rt := newRuntime(t, fake.WithLocalImages(image))
		require.NoError(t, rt.Create(ctx, cmd("c", "sleep", "infinity")))
		var chans []<-chan runtime.ExitStatus
		for range 3 {
			ch, err := rt.Wait(ctx, "c")
			require.NoError(t, err)
			chans = append(chans, ch)
		}
		require.NoError(t, rt.Start(ctx, "c"))
		require.NoError(t, rt.Exit("c", 9))
		for _, ch := range chans {
			assert.Equal(t, 9, (<-ch).Code)
		}
	})
}

func TestExit(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t)
	ch := run(t, rt, cmd("c", "sleep", "infinity"))
	require.NoError(t, rt.Exit("c", 2))
	assert.Equal(t, 2, (<-ch).Code)
	require.ErrorIs(t, rt.Exit("c", 2), runtime.ErrNotRunning)
	require.ErrorIs(t, rt.Exit("nope", 2), runtime.ErrNotFound)
}

func TestClose(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		rt := fake.New(fake.WithLocalImages(image))
		ctx := context.Background()
		running := run(t, rt, cmd("running", "sh", "-c", "while true; do sleep 1; done"))
		require.NoError(t, rt.Create(ctx, cmd("created", "true")))
		created, err := rt.Wait(ctx, "created")
		require.NoError(t, err)

		rt.Close()
		assert.Equal(t, 137, (<-running).Code)
		require.ErrorIs(t, (<-created).Err, runtime.ErrNotRunning)
		assert.Equal(t, runtime.StateStopped, state(t, rt, "running"))
		rt.Close() // idempotent
	})
}

func TestCalls(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		rt := newRuntime(t)
		ctx := context.Background()
		begin := time.Now()
		spec := cmd("c", "sleep", "infinity")
		spec.Env = []string{"A=1"}
		run(t, rt, spec)
		time.Sleep(time.Second)
		require.NoError(t, rt.Signal(ctx, "c", syscall.SIGTERM))
		_, err := rt.Exec(ctx, "c", []string{"true"})
		require.NoError(t, err)
		require.ErrorIs(t, rt.Start(ctx, "c"), runtime.ErrAlreadyStarted)
		_, err = rt.List(ctx, map[string]string{"a": "b"})
		require.NoError(t, err)

		var methods []string
		for _, c := range rt.Calls() {
			methods = append(methods, c.Method)
		}
		assert.Equal(t, []string{"EnsureImage", "Create", "Wait", "Start", "Signal", "Exec", "Start", "List"}, methods)

		starts := rt.CallsTo(fake.MethodStart)
		require.Len(t, starts, 2)
		assert.Equal(t, "c", starts[0].ID)
		assert.NoError(t, starts[0].Err)
		assert.Equal(t, begin, starts[0].Time)
		assert.ErrorIs(t, starts[1].Err, runtime.ErrAlreadyStarted)
		assert.Equal(t, begin.Add(time.Second), starts[1].Time)

		create := rt.CallsTo(fake.MethodCreate)[0]
		require.NotNil(t, create.Spec)
		assert.Equal(t, []string{"A=1"}, create.Spec.Env)
		spec.Env[0] = "A=changed"
		assert.Equal(t, []string{"A=1"}, rt.CallsTo(fake.MethodCreate)[0].Spec.Env, "the record is a copy")

		sig := rt.CallsTo(fake.MethodSignal)[0]
		assert.Equal(t, syscall.SIGTERM, sig.Signal)
		assert.Equal(t, `Signal("c", SIGTERM)`, sig.String())
		assert.Equal(t, []string{"true"}, rt.CallsTo(fake.MethodExec)[0].Cmd)
		assert.Equal(t, map[string]string{"a": "b"}, rt.CallsTo(fake.MethodList)[0].Selector)
		assert.Contains(t, starts[1].String(), "already started")

		assert.Panics(t, func() { rt.CallsTo("Strat") })
	})
}

func TestContainerSnapshot(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t)
	_, ok := rt.Container("c")
	require.False(t, ok)
	spec := cmd("c", "sh", "-c", "echo out; echo err >&2; sleep infinity")
	spec.Labels = map[string]string{"app": "web"}
	run(t, rt, spec)
	ctx := context.Background()
	require.NoError(t, rt.Signal(ctx, "c", sigUSR1))
	_, err := rt.Exec(ctx, "c", []string{"true"})
	require.NoError(t, err)
	spec.Labels["app"] = "changed"

	c, ok := rt.Container("c")
	require.True(t, ok)
	assert.Equal(t, "web", c.Spec.Labels["app"])
	assert.Equal(t, "web", c.Info.Labels["app"])
	assert.Equal(t, runtime.StateRunning, c.Info.State)
	assert.Equal(t, "out\n", c.Stdout)
	assert.Equal(t, "err\n", c.Stderr)
	assert.Equal(t, 1, c.Execs)
	require.Len(t, c.Signals, 1)
	assert.Equal(t, sigUSR1, c.Signals[0].Signal)

	c.Info.Labels["app"] = "mutated"
	c2, _ := rt.Container("c")
	assert.Equal(t, "web", c2.Info.Labels["app"], "snapshots are copies")
	assert.Len(t, rt.Containers(), 1)

	require.NoError(t, rt.Delete(ctx, "c"))
	_, ok = rt.Container("c")
	assert.False(t, ok)
}

func TestScriptSelection(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t, fake.WithLocalImages("web:1", "db:1"))
	rt.ScriptFor(fake.Selector{}, fake.Behavior{ExitCode: 1})
	rt.Script("web:1", fake.Behavior{ExitCode: 2})
	rt.ScriptFor(fake.Selector{Labels: map[string]string{"canary": "true"}}, fake.Behavior{ExitCode: 3})
	rt.ScriptFor(fake.Selector{ID: "special"}, fake.Behavior{ExitCode: 4})
	rt.ScriptFor(fake.Selector{Image: "db:1", ID: "both"}, fake.Behavior{ExitCode: 5})

	tests := []struct {
		id, image string
		labels    map[string]string
		code      int
	}{
		{"db", "db:1", nil, 1},
		{"web", "web:1", nil, 2},
		{"web-canary", "web:1", map[string]string{"canary": "true"}, 3},
		{"db-canary", "db:1", map[string]string{"canary": "true", "x": "y"}, 3},
		{"not-canary", "web:1", map[string]string{"canary": "false"}, 2},
		{"special", "web:1", map[string]string{"canary": "true"}, 4},
		{"both", "db:1", nil, 5},
		{"both-wrong-image", "web:1", nil, 2},
	}
	for _, tt := range tests {
		spec := runtime.ContainerSpec{ID: tt.id, Image: tt.image, Labels: tt.labels, Command: []string{"sleep", "infinity"}}
		if tt.id == "both-wrong-image" {
			spec.ID = "both"
		}
		ch := run(t, rt, spec)
		assert.Equal(t, tt.code, (<-ch).Code, tt.id)
		require.NoError(t, rt.Delete(context.Background(), spec.ID))
	}
}

func TestScriptLaterAppliesToNewContainers(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t)
	first := run(t, rt, cmd("first", "sleep", "infinity"))
	rt.Script(image, fake.Behavior{ExitCode: 8})
	second := run(t, rt, cmd("second", "sleep", "infinity"))
	assert.Equal(t, 8, (<-second).Code)
	assert.Equal(t, runtime.StateRunning, state(t, rt, "first"))
	require.NoError(t, rt.Signal(context.Background(), "first", syscall.SIGKILL))
	assert.Equal(t, 137, (<-first).Code)
}

func TestStats(t *testing.T) {
	t.Parallel()
	t.Run("default", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			rt := newRuntime(t)
			spec := cmd("c", "sleep", "infinity")
			spec.MemoryLimit = 128 << 20
			spec.Init = true
			run(t, rt, spec)
			time.Sleep(100 * time.Second)
			st, err := rt.Stats(context.Background(), "c")
			require.NoError(t, err)
			assert.Equal(t, runtime.Stats{
				Time:        time.Now(),
				CPUUsage:    time.Second,
				MemoryUsage: 1 << 20,
				MemoryLimit: 128 << 20,
				Pids:        2,
			}, st)
		})
	})
	t.Run("scripted", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			leak := func(elapsed time.Duration) runtime.Stats {
				return runtime.Stats{MemoryUsage: uint64(elapsed/time.Second) << 20, Pids: 3}
			}
			rt := newRuntime(t, fake.WithImage(image, fake.Behavior{Stats: leak}))
			run(t, rt, cmd("c", "sleep", "infinity"))
			time.Sleep(10 * time.Second)
			st, err := rt.Stats(context.Background(), "c")
			require.NoError(t, err)
			assert.Equal(t, uint64(10<<20), st.MemoryUsage)
			assert.Equal(t, uint64(3), st.Pids)
			assert.Equal(t, time.Now(), st.Time)
		})
	})
}

func TestInvalidSpec(t *testing.T) {
	t.Parallel()
	base := func() runtime.ContainerSpec { return cmd("c", "true") }
	tests := []struct {
		name   string
		modify func(*runtime.ContainerSpec)
		field  string
	}{
		{"no ID", func(s *runtime.ContainerSpec) { s.ID = "" }, "field ID"},
		{"slash in ID", func(s *runtime.ContainerSpec) { s.ID = "a/b" }, "field ID"},
		{"double dash in ID", func(s *runtime.ContainerSpec) { s.ID = "a--b" }, "field ID"},
		{"long ID", func(s *runtime.ContainerSpec) { s.ID = strings.Repeat("a", 77) }, "field ID"},
		{"no image", func(s *runtime.ContainerSpec) { s.Image = "" }, "field Image"},
		{"negative memory", func(s *runtime.ContainerSpec) { s.MemoryLimit = -1 }, "field MemoryLimit"},
		{"reservation over limit", func(s *runtime.ContainerSpec) { s.MemoryLimit, s.MemoryReservation = 10, 20 }, "field MemoryReservation"},
		{"negative pids", func(s *runtime.ContainerSpec) { s.PidsLimit = -1 }, "field PidsLimit"},
		{"host network and netns", func(s *runtime.ContainerSpec) { s.HostNetwork, s.NetNSPath = true, "/var/run/netns/x" }, "HostNetwork"},
		{"relative mount", func(s *runtime.ContainerSpec) { s.Mounts = []runtime.Mount{{Source: "data", Destination: "/data"}} }, "field Mounts[0]"},
		{"ulimit soft over hard", func(s *runtime.ContainerSpec) { s.Ulimits = []runtime.Ulimit{{Name: "nofile", Soft: 2, Hard: 1}} }, "field Ulimits[0]"},
	}
	rt := newRuntime(t, fake.WithLocalImages(image))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := base()
			tt.modify(&spec)
			err := rt.Create(context.Background(), spec)
			require.ErrorIs(t, err, runtime.ErrInvalidSpec)
			assert.Contains(t, err.Error(), tt.field)
		})
	}
	require.NoError(t, rt.Create(context.Background(), base()), "the base spec is valid")
}

func TestCancelledContext(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t, fake.WithLocalImages(image))
	require.NoError(t, rt.Create(context.Background(), cmd("c", "sleep", "infinity")))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	calls := map[string]func() error{
		"EnsureImage": func() error { return rt.EnsureImage(ctx, image, nil) },
		"Create":      func() error { return rt.Create(ctx, cmd("d", "true")) },
		"Start":       func() error { return rt.Start(ctx, "c") },
		"Signal":      func() error { return rt.Signal(ctx, "c", syscall.SIGTERM) },
		"Exec":        func() error { _, err := rt.Exec(ctx, "c", []string{"true"}); return err },
		"Stats":       func() error { _, err := rt.Stats(ctx, "c"); return err },
		"Inspect":     func() error { _, err := rt.Inspect(ctx, "c"); return err },
		"List":        func() error { _, err := rt.List(ctx, nil); return err },
		"Delete":      func() error { return rt.Delete(ctx, "c") },
	}
	for name, call := range calls {
		assert.ErrorIs(t, call(), context.Canceled, name)
	}
	assert.Equal(t, runtime.StateCreated, state(t, rt, "c"), "nothing happened")
}

// TestConcurrentUse hammers one runtime from many goroutines; run it with
// -race. Every Wait channel must deliver exactly one status and close.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t, fake.WithLocalImages(image))
	ctx := context.Background()
	const containers, workers = 8, 8
	ids := make([]string, containers)
	for i := range ids {
		ids[i] = "c" + string(rune('a'+i))
		require.NoError(t, rt.Create(ctx, cmd(ids[i], "sh", "-c", `trap 'exit 0' TERM; while true; do echo x; sleep 0.001; done`)))
	}
	var wg, readers sync.WaitGroup
	statuses := make(chan int, containers*workers)
	for w := range workers {
		wg.Go(func() {
			for i, id := range ids {
				if ch, err := rt.Wait(ctx, id); err == nil {
					readers.Go(func() {
						n := 0
						for range ch {
							n++
						}
						statuses <- n
					})
				}
				_ = rt.Start(ctx, id)
				_, _ = rt.Exec(ctx, id, []string{"sh", "-c", "echo hi"})
				_, _ = rt.Stats(ctx, id)
				_, _ = rt.List(ctx, nil)
				switch (w + i) % 4 {
				case 0:
					_ = rt.Signal(ctx, id, syscall.SIGTERM)
				case 1:
					_ = rt.Signal(ctx, id, syscall.SIGKILL)
				case 2:
					_ = rt.Delete(ctx, id)
				}
			}
		})
	}
	wg.Wait()
	rt.Close()
	readers.Wait()
	close(statuses)
	for n := range statuses {
		assert.Equal(t, 1, n, "statuses per Wait channel")
	}
}

func TestPrivateImagesAndVerifyImageAccess(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	right := &runtime.Auth{Username: "u", Password: "p"}
	r := fake.New(fake.WithImage("private:1", fake.Behavior{PullAuth: right}))
	t.Cleanup(r.Close)

	require.ErrorIs(t, r.VerifyImageAccess(ctx, "private:1", right), runtime.ErrNotFound, "not pulled yet")
	require.ErrorIs(t, r.EnsureImage(ctx, "private:1", nil), runtime.ErrImagePull)
	require.ErrorIs(t, r.EnsureImage(ctx, "private:1", &runtime.Auth{Username: "u", Password: "x"}), runtime.ErrImagePull)
	require.NoError(t, r.EnsureImage(ctx, "private:1", right))
	require.NoError(t, r.EnsureImage(ctx, "private:1", nil), "present: no pull, no credentials needed")

	assert.NoError(t, r.VerifyImageAccess(ctx, "private:1", right))
	assert.ErrorIs(t, r.VerifyImageAccess(ctx, "private:1", nil), runtime.ErrImagePull)
	require.NoError(t, r.EnsureImage(ctx, "public:1", nil))
	assert.NoError(t, r.VerifyImageAccess(ctx, "public:1", nil))
	assert.Len(t, r.CallsTo(fake.MethodVerifyImageAccess), 4)
}

// TestSetUnavailable: during a simulated engine outage every call fails
// with runtime.ErrUnavailable while the container goes on running and its
// Wait stays pending; once the engine is back, calls succeed again.
func TestSetUnavailable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rt := newRuntime(t)
	exited := run(t, rt, cmd("web", "sleep", "3600"))

	rt.SetUnavailable(true)
	_, err := rt.Exec(ctx, "web", []string{"true"})
	assert.ErrorIs(t, err, runtime.ErrUnavailable, "Exec")
	_, err = rt.Inspect(ctx, "web")
	assert.ErrorIs(t, err, runtime.ErrUnavailable, "Inspect")
	_, err = rt.List(ctx, nil)
	assert.ErrorIs(t, err, runtime.ErrUnavailable, "List")
	_, err = rt.Stats(ctx, "web")
	assert.ErrorIs(t, err, runtime.ErrUnavailable, "Stats")
	assert.ErrorIs(t, rt.Signal(ctx, "web", syscall.SIGKILL), runtime.ErrUnavailable, "Signal")
	assert.ErrorIs(t, rt.Delete(ctx, "web"), runtime.ErrUnavailable, "Delete")
	assert.ErrorIs(t, rt.EnsureImage(ctx, "other:1", nil), runtime.ErrUnavailable, "EnsureImage")
	assert.ErrorIs(t, rt.Create(ctx, cmd("api", "true")), runtime.ErrUnavailable, "Create")
	_, err = rt.Wait(ctx, "web")
	assert.ErrorIs(t, err, runtime.ErrUnavailable, "Wait")
	c, ok := rt.Container("web")
	require.True(t, ok)
	assert.Equal(t, runtime.StateRunning, c.Info.State, "the container outlives the outage")
	select {
	case st := <-exited:
		t.Fatalf("the wait ended during the outage: %+v", st)
	default:
	}
	assert.ErrorIs(t, rt.CallsTo(fake.MethodExec)[0].Err, runtime.ErrUnavailable, "the failed call is recorded")

	rt.SetUnavailable(false)
	res, err := rt.Exec(ctx, "web", []string{"true"})
	require.NoError(t, err)
	assert.Equal(t, 0, res.ExitCode)
	assert.Equal(t, runtime.StateRunning, state(t, rt, "web"))
}

func TestListSelectsByEveryLabel(t *testing.T) {
	ctx := context.Background()
	rt := newRuntime(t, fake.WithLocalImages(image))
	create := func(id string, labels map[string]string) {
		t.Helper()
		require.NoError(t, rt.Create(ctx, runtime.ContainerSpec{ID: id, Image: image, Command: []string{"true"}, Labels: labels}))
	}
	create("c3", map[string]string{"instance": "i-1", "task": "t1"})
	create("c1", map[string]string{"instance": "i-1", "task": "t2"})
	create("c2", map[string]string{"instance": "i-2", "task": "t1"})
	create("c4", nil)
	require.NoError(t, rt.Delete(ctx, "c3"))
	create("c5", map[string]string{"instance": "i-1", "task": "t1"})

	ids := func(selector map[string]string) []string {
		t.Helper()
		list, err := rt.List(ctx, selector)
		require.NoError(t, err)
		var out []string
		for _, info := range list {
			out = append(out, info.ID)
		}
		return out
	}
	tests := []struct {
		name     string
		selector map[string]string
		want     []string
	}{
		{"none", nil, []string{"c1", "c2", "c4", "c5"}},
		{"one label", map[string]string{"instance": "i-1"}, []string{"c1", "c5"}},
		{"two labels", map[string]string{"instance": "i-1", "task": "t1"}, []string{"c5"}},
		{"the other instance", map[string]string{"instance": "i-2", "task": "t1"}, []string{"c2"}},
		{"a value no container has", map[string]string{"instance": "i-3"}, nil},
		{"a key no container has", map[string]string{"instance": "i-1", "zone": "a"}, nil},
		{"deleted", map[string]string{"task": "t1", "instance": "i-1"}, []string{"c5"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, ids(tt.selector))
		})
	}
	require.NoError(t, rt.Delete(ctx, "c5"))
	require.NoError(t, rt.Delete(ctx, "c1"))
	assert.Nil(t, ids(map[string]string{"instance": "i-1"}), "the last container of a label deleted")
}
