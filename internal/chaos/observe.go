package chaos

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// statusRank orders a task's lastStatus along its lifecycle: a status the
// driver sees may never rank below one it saw before for the same task.
var statusRank = map[string]int{
	"PROVISIONING": 1, "PENDING": 2, "ACTIVATING": 3, "RUNNING": 4,
	"DEACTIVATING": 5, "STOPPING": 6, "DEPROVISIONING": 7, "STOPPED": 8,
}

// pollEvery is how often the observer describes the tasks.
const pollEvery = 200 * time.Millisecond

// forgetAfter is how many polls a task seen STOPPED is still described,
// to catch it coming back, before the observer drops it.
const forgetAfter = 10

// history is what the observer saw of one task.
type history struct {
	statuses      []string // lastStatus, each change
	desired       []string // desiredStatus, each change
	stoppedPolls  int
	stoppedReason string
}

// observer polls ListTasks and DescribeTasks while trials run, across the
// crashes (a poll that fails while no server serves is skipped), and
// records every task's lastStatus and desiredStatus as they change. A
// status that goes backwards is a violation.
type observer struct {
	cluster string
	client  func() *ecs.Client

	mu         sync.Mutex
	tasks      map[string]*history // by task ARN
	violations []string
	polls      int
}

func newObserver(cluster string, client func() *ecs.Client) *observer {
	return &observer{cluster: cluster, client: client, tasks: map[string]*history{}}
}

// run polls until ctx ends.
func (o *observer) run(ctx context.Context) {
	ticker := time.NewTicker(pollEvery)
	defer ticker.Stop()
	for {
		o.poll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// poll describes the tasks listed now and those seen before that are not
// yet forgotten.
func (o *observer) poll(ctx context.Context) {
	c := o.client()
	if c == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	arns := map[string]bool{}
	for _, desired := range []types.DesiredStatus{types.DesiredStatusRunning, types.DesiredStatusStopped} {
		listed, err := listTasks(ctx, c, o.cluster, desired)
		if errors.Is(err, errDuplicate) {
			o.mu.Lock()
			o.violations = append(o.violations, err.Error())
			o.mu.Unlock()
		}
		if err != nil {
			return
		}
		for _, a := range listed {
			arns[a] = true
		}
	}
	o.mu.Lock()
	for a, h := range o.tasks {
		if h.stoppedPolls < forgetAfter {
			arns[a] = true
		}
	}
	o.mu.Unlock()
	tasks, err := describeTasks(ctx, c, o.cluster, slices.Sorted(maps.Keys(arns)))
	if err != nil {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.polls++
	for _, t := range tasks {
		o.observeLocked(t)
	}
}

// observeLocked records one description of a task.
func (o *observer) observeLocked(t types.Task) {
	arn := aws.ToString(t.TaskArn)
	h := o.tasks[arn]
	if h == nil {
		h = &history{}
		o.tasks[arn] = h
	}
	last, desired := aws.ToString(t.LastStatus), aws.ToString(t.DesiredStatus)
	if n := len(h.statuses); n == 0 || h.statuses[n-1] != last {
		if n > 0 && statusRank[last] < statusRank[h.statuses[n-1]] {
			o.violations = append(o.violations, fmt.Sprintf("task %s went back from %s to %s (seen: %s)",
				taskID(arn), h.statuses[n-1], last, strings.Join(h.statuses, " -> ")))
		}
		if statusRank[last] == 0 {
			o.violations = append(o.violations, fmt.Sprintf("task %s has an unknown lastStatus %q", taskID(arn), last))
		}
		h.statuses = append(h.statuses, last)
	}
	if n := len(h.desired); n == 0 || h.desired[n-1] != desired {
		if n > 0 && h.desired[n-1] == "STOPPED" {
			o.violations = append(o.violations, fmt.Sprintf("task %s: desiredStatus went back from STOPPED to %s", taskID(arn), desired))
		}
		h.desired = append(h.desired, desired)
	}
	if last == "STOPPED" {
		h.stoppedPolls++
		h.stoppedReason = aws.ToString(t.StoppedReason)
	}
}

// take returns the violations recorded since the last take, and how many
// tasks the observer has seen and polls it made.
func (o *observer) take() (violations []string, tasks, polls int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	violations, o.violations = o.violations, nil
	return violations, len(o.tasks), o.polls
}

// listTasks lists the ARNs of the cluster's tasks of a desired status,
// every page; an ARN listed twice is an error.
func listTasks(ctx context.Context, c *ecs.Client, cluster string, desired types.DesiredStatus) ([]string, error) {
	var arns []string
	seen := map[string]bool{}
	p := ecs.NewListTasksPaginator(c, &ecs.ListTasksInput{Cluster: aws.String(cluster), DesiredStatus: desired})
	for pages := 0; p.HasMorePages(); pages++ {
		if pages > 100 {
			return nil, fmt.Errorf("ListTasks: more than 100 pages")
		}
		out, err := idempotent(ctx, func() (*ecs.ListTasksOutput, error) { return p.NextPage(ctx) })
		if err != nil {
			return nil, err
		}
		for _, a := range out.TaskArns {
			if seen[a] {
				return nil, fmt.Errorf("%w: ListTasks (%s) lists task %s twice", errDuplicate, desired, taskID(a))
			}
			seen[a] = true
			arns = append(arns, a)
		}
	}
	return arns, nil
}

// describeTasks describes tasks, 100 at a time.
func describeTasks(ctx context.Context, c *ecs.Client, cluster string, arns []string) ([]types.Task, error) {
	var tasks []types.Task
	for chunk := range slices.Chunk(arns, 100) {
		out, err := idempotent(ctx, func() (*ecs.DescribeTasksOutput, error) {
			return c.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(cluster), Tasks: chunk})
		})
		if err != nil {
			return nil, err
		}
		tasks = append(tasks, out.Tasks...)
	}
	return tasks, nil
}

// taskID is the last part of a task ARN.
func taskID(arn string) string {
	return arn[strings.LastIndexByte(arn, '/')+1:]
}

// attempts is how many times idempotent tries a call.
const attempts = 3

// idempotent makes a call that may be repeated (a read, or an update to a
// given value) again after a failure, a few times: now and then the
// client's transport closes the connection of a response while its body
// is read ("use of closed network connection", aws-sdk-go-v2 issue 2737).
// The SDK retries that by default, but the driver's clients make one
// attempt (RetryMaxAttempts 1), so that RunTask and StopTask, which may
// not be repeated, never are.
func idempotent[T any](ctx context.Context, call func() (T, error)) (T, error) {
	var out T
	var err error
	for range attempts {
		if out, err = call(); err == nil || ctx.Err() != nil {
			return out, err
		}
		if werr := wait(ctx, 50*time.Millisecond); werr != nil {
			return out, err
		}
	}
	return out, err
}
