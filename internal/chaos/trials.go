package chaos

import (
	"context"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// kind is one kind of trial: it changes the cluster, crashes the control
// plane at a random moment while the change is under way, brings it back,
// and says what it did. The driver then checks the outcome.
type kind struct {
	name string
	// untouched is the service whose tasks the trial must leave alone:
	// they are adopted across the crash, never restarted.
	untouched string
	run       func(d *driver, ctx context.Context, rng *mrand.Rand) (string, error)
}

// kinds run in turn: trial i is kinds[(i-1) % len(kinds)], so that a short
// run covers the first ones.
var kinds = []kind{
	{name: "rolling", untouched: bgService, run: (*driver).rolling},
	{name: "bluegreen", untouched: webService, run: (*driver).blueGreen},
	{name: "burst", untouched: bgService, run: (*driver).burst},
	{name: "scale", untouched: bgService, run: (*driver).scale},
}

// Upper bounds of the random moment of the crash after a change: about
// the time the change takes, so that crashes fall all along it.
const (
	rollingCrashWithin   = 5500 * time.Millisecond
	blueGreenCrashWithin = 6 * time.Second
	burstCrashWithin     = time.Second
	burstGapWithin       = 150 * time.Millisecond
	scaleOutCrashWithin  = 5 * time.Second
	scaleInCrashWithin   = 1500 * time.Millisecond
)

// script is the tasks' command: a TCP server on appPort for the target
// groups' health checks, and an exit on SIGTERM (a shell as PID 1 ignores
// the signals it does not trap).
const script = `trap 'exit 0' TERM; httpd -p 8080 -h /tmp; while true; do sleep 1 & wait $!; done`

// trial runs one trial of kind k and checks it: the intended state is
// reached, no task is listed twice, the host holds exactly the live tasks'
// containers and networks, the untouched service's containers were
// adopted (same process), and no task's status went backwards.
func (d *driver) trial(ctx context.Context, k kind, rng *mrand.Rand) (string, error) {
	if _, err := d.converge(ctx, false); err != nil {
		return "-", fmt.Errorf("the cluster is not as intended before the trial: %w", err)
	}
	before, err := d.hostCheck(ctx)
	if err != nil {
		return "-", fmt.Errorf("before the trial: %w", err)
	}
	what, err := k.run(d, ctx, rng)
	if err != nil {
		return what, err
	}
	if _, err := d.converge(ctx, false); err != nil {
		return what, err
	}
	took := time.Since(d.restarted)
	after, err := d.hostCheck(ctx)
	if err != nil {
		return what, err
	}
	if err := adopted(k.untouched, before, after); err != nil {
		return what, err
	}
	// A last poll, so that every status change before the intended state
	// was reached is seen.
	d.obs.poll(ctx)
	violations, seen, _ := d.obs.take()
	if len(violations) > 0 {
		return what, fmt.Errorf("task history: %s", strings.Join(violations, "; "))
	}
	return fmt.Sprintf("%s; as intended %.1fs after the restart, %d containers live, %d task histories consistent", what, took.Seconds(), after.containers(), seen), nil
}

// crashAfter kills the control plane after delay and starts it again. It
// says how service was as the crash came.
func (d *driver) crashAfter(ctx context.Context, delay time.Duration, service string) (string, error) {
	timer := time.NewTimer(delay)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return "", ctx.Err()
	case <-timer.C:
	}
	all, state := d.moment(ctx, service)
	d.logf("before the crash: %s", all)
	what, err := d.cp.crash()
	if err != nil {
		return state, fmt.Errorf("crash: %w", err)
	}
	d.logf("SIGKILL %s after %v", what, delay)
	if err := d.cp.recover(ctx); err != nil {
		return state, fmt.Errorf("restart: %w", err)
	}
	d.restarted = time.Now()
	d.logf("restarted %s", what)
	if r, ok := d.cp.(*replicas); ok {
		r.mu.Lock()
		state += fmt.Sprintf("; another replica led %v after", r.failover.Round(time.Millisecond))
		r.mu.Unlock()
	}
	return state, nil
}

// moment describes the services as the crash comes: their deployments
// and tasks running, for the driver's log, and in short the state of
// service (of its deployment in progress, or "steady").
func (d *driver) moment(ctx context.Context, service string) (all, short string) {
	out, err := d.client().DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(clusterName), Services: d.services()})
	if err != nil {
		return err.Error(), "unknown"
	}
	short = "steady"
	var parts []string
	for _, s := range out.Services {
		if aws.ToString(s.ServiceName) == service && (len(s.Deployments) != 1 || s.Deployments[0].RolloutState != types.DeploymentRolloutStateCompleted || s.RunningCount != s.DesiredCount) {
			short = fmt.Sprintf("%d deployments, %d of %d running", len(s.Deployments), s.RunningCount, s.DesiredCount)
		}
		var deps []string
		for _, dep := range s.Deployments {
			deps = append(deps, fmt.Sprintf("%s %s %d/%d", aws.ToString(dep.Status), dep.RolloutState, dep.RunningCount, dep.DesiredCount))
		}
		parts = append(parts, fmt.Sprintf("%s running %d of %d [%s]", aws.ToString(s.ServiceName), s.RunningCount, s.DesiredCount, strings.Join(deps, ", ")))
	}
	return strings.Join(parts, "; "), short
}

// randomDelay draws a moment in [0, within).
func randomDelay(rng *mrand.Rand, within time.Duration) time.Duration {
	return time.Duration(rng.Int64N(int64(within)))
}

// rolling rolls the 4-task service to a new revision.
func (d *driver) rolling(ctx context.Context, rng *mrand.Rand) (string, error) {
	delay := randomDelay(rng, rollingCrashWithin)
	arn, rev, err := d.registerApp(ctx, webService, d.webRev+1)
	if err != nil {
		return "-", err
	}
	what := fmt.Sprintf("%s:%d->%d, SIGKILL after %v", webService, d.webRev, rev, delay.Round(time.Millisecond))
	if _, err := d.updateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String(clusterName), Service: aws.String(webService), TaskDefinition: aws.String(arn)}); err != nil {
		return what, fmt.Errorf("UpdateService: %w", err)
	}
	d.webDef, d.webRev = arn, rev
	state, err := d.crashAfter(ctx, delay, webService)
	return what + " (" + state + ")", err
}

// blueGreen shifts the blue/green service to a new revision.
func (d *driver) blueGreen(ctx context.Context, rng *mrand.Rand) (string, error) {
	delay := randomDelay(rng, blueGreenCrashWithin)
	arn, rev, err := d.registerApp(ctx, bgService, d.bgRev+1)
	if err != nil {
		return "-", err
	}
	what := fmt.Sprintf("%s:%d->%d (LINEAR 50%%), SIGKILL after %v", bgService, d.bgRev, rev, delay.Round(time.Millisecond))
	if _, err := d.updateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String(clusterName), Service: aws.String(bgService), TaskDefinition: aws.String(arn)}); err != nil {
		return what, fmt.Errorf("UpdateService: %w", err)
	}
	d.bgDef, d.bgRev = arn, rev
	state, err := d.crashAfter(ctx, delay, bgService)
	return what + " (" + state + ")", err
}

// scale scales the 4-task service out and back in, crashing during one of
// the two.
func (d *driver) scale(ctx context.Context, rng *mrand.Rand) (string, error) {
	out := d.webCount + 1 + rng.IntN(4)
	crashOut := rng.IntN(2) == 0
	phase, within := "scale-in", scaleInCrashWithin
	if crashOut {
		phase, within = "scale-out", scaleOutCrashWithin
	}
	delay := randomDelay(rng, within)
	what := fmt.Sprintf("%s %d->%d->%d, SIGKILL during %s after %v", webService, d.webCount, out, d.webCount, phase, delay.Round(time.Millisecond))
	for _, n := range []int{out, d.webCount} {
		if _, err := d.updateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String(clusterName), Service: aws.String(webService), DesiredCount: aws.Int32(int32(n))}); err != nil {
			return what, fmt.Errorf("UpdateService: %w", err)
		}
		d.webDesired = n
		if crashOut == (n == out) {
			state, err := d.crashAfter(ctx, delay, webService)
			what += " (" + state + ")"
			if err != nil {
				return what, err
			}
		}
		if _, err := d.converge(ctx, false); err != nil {
			return what, fmt.Errorf("after scaling to %d: %w", n, err)
		}
	}
	return what, nil
}

// burst runs standalone tasks and stops service and standalone tasks in
// quick succession, crashing in the middle of it; then the standalone
// tasks are stopped.
func (d *driver) burst(ctx context.Context, rng *mrand.Rand) (string, error) {
	delay := randomDelay(rng, burstCrashWithin)
	webTasks, err := listTasks(ctx, d.client(), clusterName, types.DesiredStatusRunning)
	if err != nil {
		return "-", err
	}
	live, err := describeTasks(ctx, d.client(), clusterName, webTasks)
	if err != nil {
		return "-", err
	}
	var victims []string
	for _, t := range live {
		if aws.ToString(t.Group) == "service:"+webService {
			victims = append(victims, aws.ToString(t.TaskArn))
		}
	}
	rng.Shuffle(len(victims), func(i, j int) { victims[i], victims[j] = victims[j], victims[i] })
	victims = victims[:min(2, len(victims))]
	runs := []int{1 + rng.IntN(3), 1 + rng.IntN(2)}
	gaps := make([]time.Duration, len(victims)+2)
	for i := range gaps {
		gaps[i] = randomDelay(rng, burstGapWithin)
	}
	what := fmt.Sprintf("RunTask %d, StopTask %d, RunTask %d, StopTask 1 (SIGKILL after %v)", runs[0], len(victims), runs[1], delay.Round(time.Millisecond))

	c := d.client()
	type outcome struct {
		started, stopped []string
		interrupted      int
	}
	done := make(chan outcome, 1)
	go func() {
		var o outcome
		run := func(n int) {
			out, err := c.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String(clusterName), TaskDefinition: aws.String(d.jobDef), Count: aws.Int32(int32(n)), StartedBy: aws.String("chaos")})
			if err != nil {
				o.interrupted++
				return
			}
			for _, t := range out.Tasks {
				o.started = append(o.started, aws.ToString(t.TaskArn))
			}
		}
		stop := func(arn string) {
			if _, err := c.StopTask(ctx, &ecs.StopTaskInput{Cluster: aws.String(clusterName), Task: aws.String(arn), Reason: aws.String("chaos burst")}); err != nil {
				o.interrupted++
				return
			}
			o.stopped = append(o.stopped, arn)
		}
		// The calls come a random moment apart, so that the crash may
		// fall between them as well as after them.
		pause := func() { _ = wait(ctx, gaps[0]); gaps = gaps[1:] }
		run(runs[0])
		for _, v := range victims {
			pause()
			stop(v)
		}
		pause()
		run(runs[1])
		if len(o.started) > 0 {
			pause()
			stop(o.started[0])
		}
		done <- o
	}()
	_, crashErr := d.crashAfter(ctx, delay, webService)
	o := <-done
	what += fmt.Sprintf(", %d calls interrupted", o.interrupted)
	if crashErr != nil {
		return what, crashErr
	}
	// Every task the burst asked to stop stops, and the standalone tasks
	// end RUNNING or STOPPED (with a reason), none half-way.
	if _, err := d.converge(ctx, true); err != nil {
		return what, err
	}
	burst := slices.Compact(slices.Sorted(slices.Values(slices.Concat(o.started, o.stopped))))
	tasks, err := describeTasks(ctx, d.client(), clusterName, burst)
	if err != nil {
		return what, err
	}
	lost := 0
	for _, t := range tasks {
		arn, last := aws.ToString(t.TaskArn), aws.ToString(t.LastStatus)
		if slices.Contains(o.stopped, arn) && last != "STOPPED" {
			return what, fmt.Errorf("task %s was stopped by StopTask but is %s", taskID(arn), last)
		}
		if last == "STOPPED" && aws.ToString(t.StoppedReason) == "" {
			return what, fmt.Errorf("task %s is STOPPED without a reason", taskID(arn))
		}
		if last == "STOPPED" && !slices.Contains(o.stopped, arn) {
			lost++
			d.logf("task %s of the burst stopped by the restart: %s", taskID(arn), aws.ToString(t.StoppedReason))
		}
	}
	if len(tasks) != len(burst) {
		return what, fmt.Errorf("described %d of the burst's %d tasks", len(tasks), len(burst))
	}
	if lost > 0 {
		what += fmt.Sprintf(", %d started task(s) STOPPED by the restart", lost)
	}
	return what, d.stopStandalone(ctx)
}

// stopStandalone stops every standalone task still running.
func (d *driver) stopStandalone(ctx context.Context) error {
	arns, err := listTasks(ctx, d.client(), clusterName, types.DesiredStatusRunning)
	if err != nil {
		return err
	}
	tasks, err := describeTasks(ctx, d.client(), clusterName, arns)
	if err != nil {
		return err
	}
	for _, t := range tasks {
		if strings.HasPrefix(aws.ToString(t.Group), "service:") {
			continue
		}
		if _, err := d.client().StopTask(ctx, &ecs.StopTaskInput{Cluster: aws.String(clusterName), Task: t.TaskArn, Reason: aws.String("chaos: tidy up")}); err != nil {
			return fmt.Errorf("StopTask %s: %w", taskID(aws.ToString(t.TaskArn)), err)
		}
	}
	return nil
}

// registerApp registers revision rev of a family running the app; the
// revisions differ by their environment.
func (d *driver) registerApp(ctx context.Context, family string, rev int) (arn string, got int, err error) {
	out, err := d.client().RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family: aws.String(family), NetworkMode: types.NetworkModeAwsvpc,
		ContainerDefinitions: []types.ContainerDefinition{{
			Name: aws.String(containerName), Image: aws.String(imageRef), Essential: aws.Bool(true),
			Memory: aws.Int32(32), Cpu: 32, Command: []string{"sh", "-c", script}, StopTimeout: aws.Int32(5),
			PortMappings: []types.PortMapping{{ContainerPort: aws.Int32(appPort), Protocol: types.TransportProtocolTcp}},
			// Checked, so that a task counts as healthy once it answers,
			// not 40 s after it started (service.UncheckedSettleTime).
			HealthCheck: &types.HealthCheck{
				Command:  []string{"TCP", strconv.Itoa(appPort)},
				Interval: aws.Int32(5), Timeout: aws.Int32(2), Retries: aws.Int32(2), StartPeriod: aws.Int32(0),
			},
			Environment: []types.KeyValuePair{{Name: aws.String("REVISION"), Value: aws.String(strconv.Itoa(rev))}},
		}},
	})
	if err != nil {
		return "", 0, fmt.Errorf("RegisterTaskDefinition %s: %w", family, err)
	}
	td := out.TaskDefinition
	if int(td.Revision) != rev {
		return "", 0, fmt.Errorf("RegisterTaskDefinition %s: revision %d, want %d", family, td.Revision, rev)
	}
	return aws.ToString(td.TaskDefinitionArn), int(td.Revision), nil
}

// setUp starts the server, registers the definitions, creates the
// services and waits for them to be steady.
func (d *driver) setUp(ctx context.Context) error {
	if err := d.cp.start(ctx); err != nil {
		return err
	}
	var err error
	if d.webDef, d.webRev, err = d.registerApp(ctx, webService, 1); err != nil {
		return err
	}
	if d.withBlueGreen {
		if d.bgDef, d.bgRev, err = d.registerApp(ctx, bgService, 1); err != nil {
			return err
		}
	}
	if d.jobDef, _, err = d.registerApp(ctx, jobFamily, 1); err != nil {
		return err
	}
	c := d.client()
	_, err = c.CreateService(ctx, &ecs.CreateServiceInput{
		Cluster: aws.String(clusterName), ServiceName: aws.String(webService), TaskDefinition: aws.String(d.webDef), DesiredCount: aws.Int32(int32(d.webCount)),
		DeploymentConfiguration: &types.DeploymentConfiguration{MinimumHealthyPercent: aws.Int32(50), MaximumPercent: aws.Int32(200)},
	})
	if err != nil {
		return fmt.Errorf("CreateService %s: %w", webService, err)
	}
	d.webDesired = d.webCount
	if !d.withBlueGreen {
		_, err = d.converge(ctx, false)
		return err
	}
	_, err = c.CreateService(ctx, &ecs.CreateServiceInput{
		Cluster: aws.String(clusterName), ServiceName: aws.String(bgService), TaskDefinition: aws.String(d.bgDef), DesiredCount: aws.Int32(bgCount),
		DeploymentConfiguration: &types.DeploymentConfiguration{
			Strategy: types.DeploymentStrategyLinear, BakeTimeInMinutes: aws.Int32(0),
			LinearConfiguration: &types.LinearConfiguration{StepPercent: aws.Float64(50), StepBakeTimeInMinutes: aws.Int32(0)},
		},
		LoadBalancers: []types.LoadBalancer{{
			TargetGroupArn: aws.String(blueGroup), ContainerName: aws.String(containerName), ContainerPort: aws.Int32(appPort),
			AdvancedConfiguration: &types.AdvancedConfiguration{AlternateTargetGroupArn: aws.String(greenGroup), ProductionListenerRule: aws.String(prodRule)},
		}},
	})
	if err != nil {
		return fmt.Errorf("CreateService %s: %w", bgService, err)
	}
	_, err = d.converge(ctx, false)
	return err
}

// errNotYet is what converge waits out.
var errNotYet = errors.New("not yet")

// updateService updates a service, again when the call failed.
func (d *driver) updateService(ctx context.Context, in *ecs.UpdateServiceInput) (*ecs.UpdateServiceOutput, error) {
	return idempotent(ctx, func() (*ecs.UpdateServiceOutput, error) { return d.client().UpdateService(ctx, in) })
}
