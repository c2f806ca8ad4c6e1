package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/runtime"
	"github.com/stevedore-io/stevedore/stevedoretest"
	"github.com/stevedore-io/stevedore/task"
)

// Scripts the test containers run. PID 1 of a container ignores signals it
// has no handler for, so every long-running script traps TERM: a stopping
// task then takes milliseconds instead of its whole stopTimeout.
const (
	// idleScript waits to be stopped.
	idleScript = `trap 'exit 0' TERM; sleep 3600 & wait`
	// webScript serves "hello from <hostname>" on port 8080 with busybox httpd.
	webScript = `mkdir -p /www && echo "hello from $(hostname)" > /www/index.html
httpd -f -p 8080 -h /www & pid=$!
trap 'kill $pid; exit 0' TERM
wait $pid`
	// webHealthCheck is the ECS health check of webScript's server.
	webHealthCheck = `"healthCheck": {"command": ["CMD-SHELL", "wget -q -O - http://127.0.0.1:8080/ || exit 1"], "interval": 5, "timeout": 2, "retries": 1}`
)

// shellCommand is the JSON of a container's entryPoint and command running
// script with sh -c.
func shellCommand(script string) string {
	b, _ := json.Marshal(script)
	return fmt.Sprintf(`"entryPoint": ["sh", "-c"], "command": [%s]`, b)
}

// webTaskDef is the JSON of an awsvpc task definition of family with one
// essential container, web, that runs script, listens on 8080 and has
// webHealthCheck.
func webTaskDef(family, script string) string {
	return fmt.Sprintf(`{
		"family": %q,
		"networkMode": "awsvpc",
		"cpu": "128", "memory": "64",
		"containerDefinitions": [{
			"name": "web", "image": %q, "essential": true,
			%s,
			"portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
			%s,
			"stopTimeout": 2
		}]
	}`, family, imageRef, shellCommand(script), webHealthCheck)
}

// idleTaskDef is the JSON of an awsvpc task definition of family with one
// essential container, idle, that runs idleScript.
func idleTaskDef(family string) string {
	return fmt.Sprintf(`{
		"family": %q,
		"networkMode": "awsvpc",
		"containerDefinitions": [{"name": "idle", "image": %q, "essential": true, "memory": 16, %s, "stopTimeout": 2}]
	}`, family, imageRef, shellCommand(idleScript))
}

// registerDef parses an ECS task definition and registers it.
func (e *env) registerDef(def string) *task.TaskDefinition {
	e.t.Helper()
	td, warnings, err := task.ParseDefinition([]byte(def))
	require.NoError(e.t, err, "task definition:\n%s", def)
	require.Empty(e.t, warnings, "task definition has unknown members")
	reg, err := e.orc.RegisterTaskDefinition(e.ctx, &stevedore.RegisterTaskDefinitionInput{TaskDefinition: *td})
	require.NoError(e.t, err)
	return reg.TaskDefinition
}

// runTask runs one task of def and returns it as RunTask described it.
func (e *env) runTask(def *task.TaskDefinition) *task.Task {
	e.t.Helper()
	out, err := e.orc.RunTask(e.ctx, &stevedore.RunTaskInput{Cluster: e.cluster, TaskDefinition: def.Ref()})
	require.NoError(e.t, err)
	require.Empty(e.t, out.Failures, "RunTask could not place the task")
	require.Len(e.t, out.Tasks, 1)
	return out.Tasks[0]
}

// describe returns the task as DescribeTasks shows it.
func (e *env) describe(id string) *task.Task {
	e.t.Helper()
	tasks, err := stevedoretest.TasksOf(e.orc.DescribeTasks(e.ctx, &stevedore.DescribeTasksInput{Cluster: e.cluster, Tasks: []string{id}}))
	require.NoError(e.t, err)
	require.Len(e.t, tasks, 1)
	return tasks[0]
}

// waitTask polls DescribeTasks until cond holds, for at most timeout, and
// returns the task then. On timeout the test fails with the last state.
func (e *env) waitTask(id, what string, timeout time.Duration, cond func(*task.Task) bool) *task.Task {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		t := e.describe(id)
		if cond(t) {
			return t
		}
		if time.Now().After(deadline) || e.ctx.Err() != nil {
			e.t.Fatalf("task %s: not %s within %s; last state:\n%s", id, what, timeout, toJSON(t))
		}
		sleep(e.ctx, pollEvery)
	}
}

// waitRunning waits for a task to be RUNNING (failing at once when it
// stops instead).
func (e *env) waitRunning(id string, timeout time.Duration) *task.Task {
	e.t.Helper()
	t := e.waitTask(id, "RUNNING", timeout, func(t *task.Task) bool {
		return t.LastStatus == task.Running || t.LastStatus == task.Stopped
	})
	require.Equal(e.t, task.Running, t.LastStatus, "task stopped instead of running: %s %s", t.StopCode, t.StoppedReason)
	return t
}

// waitStopped waits for a task to be STOPPED.
func (e *env) waitStopped(id string, timeout time.Duration) *task.Task {
	e.t.Helper()
	return e.waitTask(id, "STOPPED", timeout, func(t *task.Task) bool { return t.LastStatus == task.Stopped })
}

// stopTask stops a task and waits until it is STOPPED.
func (e *env) stopTask(id string) *task.Task {
	e.t.Helper()
	_, err := e.orc.StopTask(e.ctx, &stevedore.StopTaskInput{Cluster: e.cluster, Task: id, Reason: "stopped by the integration test"})
	require.NoError(e.t, err)
	return e.waitStopped(id, 30*time.Second)
}

// runtimeID returns the runtime's ID of a container of a task.
func runtimeID(t *testing.T, tk *task.Task, container string) string {
	t.Helper()
	c := tk.Container(container)
	require.NotNil(t, c, "task %s has no container %s", tk.ID(), container)
	require.NotEmpty(t, c.RuntimeID, "container %s of task %s has no runtime ID", container, tk.ID())
	return c.RuntimeID
}

// exec runs cmd in a container of the env's runtime and returns its
// output; a non-zero exit fails the test unless allowFail.
func (e *env) exec(id string, cmd ...string) runtime.ExecResult {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.ctx, 20*time.Second)
	defer cancel()
	res, err := e.rt.Exec(ctx, id, cmd)
	require.NoError(e.t, err, "exec %q in %s", cmd, id)
	return res
}

// httpGet fetches url (loopback or a task's address) with a short timeout.
func httpGet(ctx context.Context, url string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	return get(ctx, &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}, url)
}

// get fetches url with client and returns its body; a status other than
// 200 is an error.
func get(ctx context.Context, client *http.Client, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return string(body), fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(body), nil
}

// eventuallyGet fetches url until it answers 200, for at most timeout (a
// server in a task that just became RUNNING may need a moment to listen).
func (e *env) eventuallyGet(url string, timeout time.Duration) string {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for attempt := 1; ; attempt++ {
		body, err := httpGet(e.ctx, url)
		if err == nil {
			return body
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("GET %s: no answer within %s (%d attempts): %v", url, timeout, attempt, err)
		}
		sleep(e.ctx, 200*time.Millisecond)
	}
}

// taskIP returns a task's private IPv4 address from its attachment.
func taskIP(t *testing.T, tk *task.Task) string {
	t.Helper()
	ip := tk.PrivateIPv4Address()
	require.NotEmpty(t, ip, "task %s has no private IPv4 address: %s", tk.ID(), toJSON(tk.Attachments))
	return ip
}

func toJSON(v any) string {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Sprintf("%+v", v)
	}
	return string(b)
}

// eventLog collects the Orchestrator's events from Subscribe.
type eventLog struct {
	mu     sync.Mutex
	events []stevedore.Event
	done   chan struct{}
	cancel context.CancelFunc
}

// subscribe collects events until stop is called or the test ends.
func (e *env) subscribe() *eventLog {
	e.t.Helper()
	ctx, cancel := context.WithCancel(e.ctx)
	ch, err := e.orc.Subscribe(ctx)
	require.NoError(e.t, err)
	l := &eventLog{done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(l.done)
		for ev := range ch {
			l.mu.Lock()
			l.events = append(l.events, ev)
			l.mu.Unlock()
		}
	}()
	e.t.Cleanup(func() { l.stop() })
	return l
}

// stop ends the subscription and returns every event received.
func (l *eventLog) stop() []stevedore.Event {
	l.cancel()
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]stevedore.Event(nil), l.events...)
}

// taskStatuses lists the lastStatus values of a task's events, in order,
// without repeats.
func taskStatuses(events []stevedore.Event, id string) []string {
	var out []string
	for _, ev := range events {
		if ev.Task == nil || ev.Task.ID() != id {
			continue
		}
		s := string(ev.Task.LastStatus)
		if len(out) == 0 || out[len(out)-1] != s {
			out = append(out, s)
		}
	}
	return out
}

// containsAll reports whether s contains every one of subs, and which
// one is missing.
func containsAll(s string, subs ...string) (bool, string) {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false, sub
		}
	}
	return true, ""
}

// sleep waits for d, or less when ctx ends; the loops that call it are
// bounded by their own deadlines.
func sleep(ctx context.Context, d time.Duration) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
	case <-timer.C:
	}
}

// idsOfARNs is the task IDs at the end of task ARNs.
func idsOfARNs(arns []string) []string {
	ids := make([]string, len(arns))
	for i, arn := range arns {
		ids[i] = arn[strings.LastIndexByte(arn, '/')+1:]
	}
	return ids
}

// errOf is the error of a call whose output a test does not look at.
func errOf[T any](_ T, err error) error { return err }
