package fake_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/stevedore-io/stevedore/runtime"
	"github.com/stevedore-io/stevedore/runtime/fake"
)

// A container runs its command: here a shell script that prints and exits 3.
func Example() {
	ctx := context.Background()
	rt := fake.New()
	defer rt.Close()

	_ = rt.EnsureImage(ctx, "busybox", nil)
	_ = rt.Create(ctx, runtime.ContainerSpec{
		ID:      "hello",
		Image:   "busybox",
		Command: []string{"sh", "-c", `echo "hello, $WHO"; exit 3`},
		Env:     []string{"WHO=world"},
		Stdout:  os.Stdout,
	})
	ch, _ := rt.Wait(ctx, "hello")
	_ = rt.Start(ctx, "hello")
	fmt.Println("exit code", (<-ch).Code)
	// Output:
	// hello, world
	// exit code 3
}

// An image scripted to crash; the test then checks what the code under test
// asked of the runtime.
func Example_scriptedCrash() {
	ctx := context.Background()
	rt := fake.New(fake.WithImage("web:1", fake.Behavior{RunFor: 10 * time.Millisecond, ExitCode: 2}))
	defer rt.Close()

	_ = rt.EnsureImage(ctx, "web:1", &runtime.Auth{Username: "ci", Password: "secret"})
	_ = rt.Create(ctx, runtime.ContainerSpec{ID: "web-1", Image: "web:1"})
	_ = rt.Start(ctx, "web-1")
	ch, _ := rt.Wait(ctx, "web-1")
	st := <-ch
	err := rt.Start(ctx, "web-1")

	fmt.Println("exit code:", st.Code)
	fmt.Println("restart refused:", errors.Is(err, runtime.ErrAlreadyStarted))
	for _, c := range rt.Calls() {
		fmt.Println(c)
	}
	fmt.Println("pulled:", rt.Pulls())
	// Output:
	// exit code: 2
	// restart refused: true
	// EnsureImage("web:1", auth user "ci")
	// Create("web-1", image "web:1")
	// Start("web-1")
	// Wait("web-1")
	// Start("web-1"): fake: start container "web-1": runtime: container already started
	// pulled: [web:1]
}

// Health checks are Execs; a script decides their results.
func Example_healthCheck() {
	ctx := context.Background()
	rt := fake.New(fake.WithImage("api:1", fake.Behavior{Exec: fake.FailFirst(2)}))
	defer rt.Close()

	_ = rt.EnsureImage(ctx, "api:1", nil)
	_ = rt.Create(ctx, runtime.ContainerSpec{ID: "api", Image: "api:1", Command: []string{"sleep", "infinity"}})
	_ = rt.Start(ctx, "api")
	for range 4 {
		res, _ := rt.Exec(ctx, "api", []string{"sh", "-c", "curl -f http://localhost/health || exit 1"})
		fmt.Print(res.ExitCode, " ")
	}
	fmt.Println()
	// Output:
	// 1 1 0 0
}

// Signals act as on a real container: busybox sleep as PID 1 ignores
// SIGTERM, a shell with a trap handles it, SIGKILL always works.
func Example_signals() {
	ctx := context.Background()
	rt := fake.New(fake.WithLocalImages("busybox"))
	defer rt.Close()

	start := func(id string, argv ...string) <-chan runtime.ExitStatus {
		_ = rt.Create(ctx, runtime.ContainerSpec{ID: id, Image: "busybox", Command: argv})
		ch, _ := rt.Wait(ctx, id)
		_ = rt.Start(ctx, id)
		return ch
	}

	sleeper := start("sleeper", "sleep", "3600")
	_ = rt.Signal(ctx, "sleeper", syscall.SIGTERM)
	info, _ := rt.Inspect(ctx, "sleeper")
	fmt.Println("sleep after SIGTERM:", info.State)
	_ = rt.Signal(ctx, "sleeper", syscall.SIGKILL)
	fmt.Println("sleep after SIGKILL: exit", (<-sleeper).Code)

	trapper := start("trapper", "sh", "-c", `trap "exit 0" TERM; while true; do sleep 0.01; done`)
	_ = rt.Signal(ctx, "trapper", syscall.SIGTERM)
	fmt.Println("trap after SIGTERM: exit", (<-trapper).Code)

	c, _ := rt.Container("sleeper")
	fmt.Println("sleeper received", len(c.Signals), "signals")
	// Output:
	// sleep after SIGTERM: RUNNING
	// sleep after SIGKILL: exit 137
	// trap after SIGTERM: exit 0
	// sleeper received 2 signals
}

// Scripts can pick containers by label; the last matching script applies.
func ExampleRuntime_ScriptFor() {
	ctx := context.Background()
	rt := fake.New(fake.WithLocalImages("web:1"))
	defer rt.Close()
	rt.ScriptFor(fake.Selector{Labels: map[string]string{"canary": "true"}},
		fake.Behavior{StartError: errors.New("exec format error")})

	for _, id := range []string{"stable", "canary"} {
		_ = rt.Create(ctx, runtime.ContainerSpec{
			ID: id, Image: "web:1", Command: []string{"sleep", "infinity"},
			Labels: map[string]string{"canary": fmt.Sprint(id == "canary")},
		})
		err := rt.Start(ctx, id)
		fmt.Printf("%s: start failed: %v\n", id, errors.Is(err, runtime.ErrStart))
	}
	list, _ := rt.List(ctx, map[string]string{"canary": "true"})
	fmt.Println(list[0].ID, list[0].State)
	// Output:
	// stable: start failed: false
	// canary: start failed: true
	// canary CREATED
}

// An Exec script can answer some commands itself and leave the rest to the
// command vocabulary.
func ExampleExecCall_Interpret() {
	ctx := context.Background()
	down := func(c fake.ExecCall) fake.ExecReply {
		if c.Cmd[0] == "curl" {
			return fake.ExecReply{ExitCode: 7, Output: "connection refused\n"}
		}
		reply, _ := c.Interpret()
		return reply
	}
	rt := fake.New(fake.WithImage("web:1", fake.Behavior{Exec: down}), fake.WithLocalImages("web:1"))
	defer rt.Close()
	_ = rt.Create(ctx, runtime.ContainerSpec{ID: "web", Image: "web:1", Command: []string{"sleep", "infinity"}, Hostname: "web-a"})
	_ = rt.Start(ctx, "web")

	for _, cmd := range [][]string{{"curl", "-f", "localhost"}, {"hostname"}} {
		res, _ := rt.Exec(ctx, "web", cmd)
		fmt.Printf("%v -> %d %q\n", cmd, res.ExitCode, res.Output)
	}
	// Output:
	// [curl -f localhost] -> 7 "connection refused\n"
	// [hostname] -> 0 "web-a\n"
}
