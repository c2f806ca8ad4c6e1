package chaos

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/stevedore-io/stevedore/agent"
	"github.com/stevedore-io/stevedore/internal/cgroupclean"
	"github.com/stevedore-io/stevedore/internal/leakcheck"
)

// pollInterval is how often the waits look again.
const pollInterval = 250 * time.Millisecond

// hostSettle bounds the wait for the host to match the tasks once the API
// says they are as intended: the kernel destroys a stopped task's
// namespace in a deferred clean-up that takes seconds on a busy machine
// (make test runs every package's tests at once). Generous, so that only
// a real leftover fails a trial (a veth left to that clean-up, before
// netlinux's Teardown deleted it, outlived its task by over a minute).
const hostSettle = 90 * time.Second

// converge waits until the cluster is as intended (see converged), and
// returns how long that took.
func (d *driver) converge(ctx context.Context, allowStandalone bool) (time.Duration, error) {
	start := time.Now()
	deadline := start.Add(d.cfg.ConvergeTimeout)
	var said string
	for {
		err := d.converged(ctx, allowStandalone)
		if err != nil && err.Error() != said {
			said = err.Error()
			d.logf("waiting: %v", err)
		}
		switch {
		case err == nil:
			return time.Since(start), nil
		case errors.Is(err, errDuplicate):
			return 0, err
		case time.Now().After(deadline):
			return 0, fmt.Errorf("not as intended within %v: %w", d.cfg.ConvergeTimeout, err)
		}
		if err := wait(ctx, pollInterval); err != nil {
			return 0, err
		}
	}
}

// wait waits for d or the end of ctx.
func wait(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// converged returns nil when the cluster is as intended: each service at
// its desired count, every task of it RUNNING on the intended revision,
// one deployment, PRIMARY and COMPLETED; every task asked to stop STOPPED
// and every other RUNNING (none half-way); no standalone task left unless
// allowStandalone.
func (d *driver) converged(ctx context.Context, allowStandalone bool) error {
	c := d.client()
	if c == nil {
		return fmt.Errorf("%w: no server", errNotYet)
	}
	want := map[string]struct {
		count int
		def   string
	}{webService: {d.webDesired, d.webDef}}
	if d.withBlueGreen {
		want[bgService] = struct {
			count int
			def   string
		}{bgCount, d.bgDef}
	}
	out, err := idempotent(ctx, func() (*ecs.DescribeServicesOutput, error) {
		return c.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(clusterName), Services: d.services()})
	})
	if err != nil {
		return err
	}
	if len(out.Services) != len(want) {
		return fmt.Errorf("DescribeServices: %d services, want %d (failures: %v)", len(out.Services), len(want), out.Failures)
	}
	for _, s := range out.Services {
		name := aws.ToString(s.ServiceName)
		w := want[name]
		if int(s.DesiredCount) != w.count || int(s.RunningCount) != w.count || s.PendingCount != 0 {
			return fmt.Errorf("%w: service %s: desired %d, running %d, pending %d; want %d running", errNotYet, name, s.DesiredCount, s.RunningCount, s.PendingCount, w.count)
		}
		if len(s.Deployments) != 1 {
			return fmt.Errorf("%w: service %s has %d deployments", errNotYet, name, len(s.Deployments))
		}
		dep := s.Deployments[0]
		if aws.ToString(dep.Status) != "PRIMARY" || dep.RolloutState != types.DeploymentRolloutStateCompleted || aws.ToString(dep.TaskDefinition) != w.def {
			return fmt.Errorf("%w: service %s: deployment %s %s of %s, want a COMPLETED PRIMARY of %s", errNotYet, name,
				aws.ToString(dep.Status), dep.RolloutState, aws.ToString(dep.TaskDefinition), w.def)
		}
	}
	running, err := listTasks(ctx, c, clusterName, types.DesiredStatusRunning)
	if err != nil {
		return err
	}
	stopped, err := listTasks(ctx, c, clusterName, types.DesiredStatusStopped)
	if err != nil {
		return err
	}
	for _, a := range running {
		if slices.Contains(stopped, a) {
			return fmt.Errorf("%w: task %s is listed both desired RUNNING and STOPPED", errDuplicate, taskID(a))
		}
	}
	tasks, err := describeTasks(ctx, c, clusterName, slices.Concat(running, stopped))
	if err != nil {
		return err
	}
	live := map[string]int{}
	for _, t := range tasks {
		id, last, desired := taskID(aws.ToString(t.TaskArn)), aws.ToString(t.LastStatus), aws.ToString(t.DesiredStatus)
		if last != desired {
			return fmt.Errorf("%w: task %s is %s, desired %s", errNotYet, id, last, desired)
		}
		if last != "RUNNING" {
			continue
		}
		service, ok := strings.CutPrefix(aws.ToString(t.Group), "service:")
		switch {
		case !ok && !allowStandalone:
			return fmt.Errorf("%w: standalone task %s still runs", errNotYet, id)
		case !ok:
		case aws.ToString(t.TaskDefinitionArn) != want[service].def:
			return fmt.Errorf("%w: task %s of %s runs %s, want %s", errNotYet, id, service, aws.ToString(t.TaskDefinitionArn), want[service].def)
		default:
			live[service]++
		}
	}
	for name, w := range want {
		if live[name] != w.count {
			return fmt.Errorf("%w: service %s has %d tasks RUNNING, want %d", errNotYet, name, live[name], w.count)
		}
	}
	return nil
}

// hostState is what a host check saw: the containerd task of each
// container (its pid and status), and the containers of each service.
type hostState struct {
	process   map[string]string   // container ID -> "pid N, RUNNING"
	byService map[string][]string // service -> its tasks' container IDs
}

func (h hostState) containers() int { return len(h.process) }

// ignoredKinds are what a host check mid-run does not compare with the
// tasks: the bridge and host table of the task network stay while the
// server runs, and the FIFO and task directories are checked at the end.
var ignoredKinds = []string{"bridge", "FIFO directory", "agent task directory"}

// hostCheck compares what containerd and the kernel hold under the run's
// names with the live tasks: exactly their containers, containerd tasks
// and writable snapshots, and exactly their network namespaces, veths and
// nftables tables. Nothing orphaned, nothing missing, nothing twice.
func (d *driver) hostCheck(ctx context.Context) (hostState, error) {
	c := d.client()
	running, err := listTasks(ctx, c, clusterName, types.DesiredStatusRunning)
	if err != nil {
		return hostState{}, err
	}
	tasks, err := describeTasks(ctx, c, clusterName, running)
	if err != nil {
		return hostState{}, err
	}
	byID := map[string]host{}
	want := map[string]bool{}
	for _, h := range d.hosts {
		byID[h.id] = h
		want[h.id+" nftables table "+h.names.hostTable] = true
	}
	byService := map[string][]string{}
	for _, t := range tasks {
		if aws.ToString(t.LastStatus) != "RUNNING" {
			return hostState{}, fmt.Errorf("task %s is %s, not RUNNING", taskID(aws.ToString(t.TaskArn)), aws.ToString(t.LastStatus))
		}
		id := taskID(aws.ToString(t.TaskArn))
		h, ok := byID[taskID(aws.ToString(t.ContainerInstanceArn))]
		if !ok {
			return hostState{}, fmt.Errorf("task %s runs on instance %s, not one of the run's", id, aws.ToString(t.ContainerInstanceArn))
		}
		for _, ctr := range t.Containers {
			cid := agent.ContainerID(id, aws.ToString(ctr.Name))
			for _, k := range []string{"container", "task", "snapshot"} {
				key := h.id + " " + k + " " + cid
				if want[key] {
					return hostState{}, fmt.Errorf("%w: container %s belongs to two tasks", errDuplicate, cid)
				}
				want[key] = true
			}
			if service, ok := strings.CutPrefix(aws.ToString(t.Group), "service:"); ok {
				byService[service] = append(byService[service], cid)
			}
		}
		obj := objectName(h.names.prefix, id)
		want[h.id+" netns "+filepath.Join(leakcheck.DefaultNetNSDir, obj)] = true
		want[h.id+" veth "+obj] = true
		want[h.id+" nftables table bridge "+obj] = true
	}
	deadline := time.Now().Add(hostSettle)
	for {
		found, process, err := d.findOnHosts(ctx, false)
		if err != nil {
			return hostState{}, err
		}
		orphans, missing := diff(found, want)
		orphans = slices.DeleteFunc(orphans, func(o string) bool { return d.reported[o] })
		if len(orphans) == 0 && len(missing) == 0 {
			return hostState{process: process, byService: byService}, nil
		}
		if time.Now().After(deadline) {
			// Reported once: the trials after this one are judged on
			// their own (the final check still finds it).
			for _, o := range orphans {
				d.reported[o] = true
			}
			return hostState{}, fmt.Errorf("the host does not hold exactly the %d live tasks: orphaned: %v; missing: %v", len(tasks), orphans, missing)
		}
		if err := wait(ctx, pollInterval); err != nil {
			return hostState{}, err
		}
	}
}

// findOnHosts lists the run's objects on the host (leakcheck.Find scoped
// to each instance's names), as "instance kind name", and the containerd
// tasks' processes. Unless final, the ignoredKinds are left out.
func (d *driver) findOnHosts(ctx context.Context, final bool) (map[string]bool, map[string]string, error) {
	found := map[string]bool{}
	process := map[string]string{}
	for _, h := range d.hosts {
		cfg := leakcheck.Config{
			ContainerdAddress: d.cfg.ContainerdAddress, ContainerdNamespacePrefix: h.names.namespace,
			NamePrefixes: []string{h.names.prefix, h.names.bridge},
			NoLabels:     true, // other tests' namespaces carry the same label
			FIFODirs:     []string{}, AgentStateDirs: []string{},
		}
		if final {
			cfg.FIFODirs = []string{filepath.Join(h.state, "fifo")}
			cfg.AgentStateDirs = []string{h.agents}
		}
		leaks, err := leakcheck.Find(ctx, cfg)
		if err != nil {
			return nil, nil, err
		}
		for _, l := range leaks {
			if !final && slices.Contains(ignoredKinds, l.Kind) {
				continue
			}
			found[h.id+" "+l.Kind+" "+l.Name] = true
			if l.Kind == "task" {
				process[l.Name] = l.Detail
			}
		}
	}
	return found, process, nil
}

// diff returns what is found and not wanted, and wanted and not found.
func diff(found, want map[string]bool) (orphans, missing []string) {
	for k := range found {
		if !want[k] {
			orphans = append(orphans, k)
		}
	}
	for k := range want {
		if !found[k] {
			missing = append(missing, k)
		}
	}
	slices.Sort(orphans)
	slices.Sort(missing)
	return orphans, missing
}

// objectName is the name network/netlinux gives a task's namespace, veth
// and nftables table: the prefix and hex digits of a hash of the task ID,
// 15 characters in all.
func objectName(prefix, taskID string) string {
	sum := sha256.Sum256([]byte(taskID))
	return prefix + hex.EncodeToString(sum[:])[:15-len(prefix)]
}

// adopted checks that the containers of service survived the crash as
// they were: the same containers, each with the same process.
func adopted(service string, before, after hostState) error {
	was, is := slices.Sorted(slices.Values(before.byService[service])), slices.Sorted(slices.Values(after.byService[service]))
	if !slices.Equal(was, is) {
		return fmt.Errorf("service %s was left alone, yet its containers changed: %v before, %v after", service, was, is)
	}
	for _, cid := range was {
		if before.process[cid] != after.process[cid] {
			return fmt.Errorf("container %s of %s was not adopted: %s before the crash, %s after", cid, service, before.process[cid], after.process[cid])
		}
	}
	return nil
}

// services are the services of the run.
func (d *driver) services() []string {
	if d.withBlueGreen {
		return []string{webService, bgService}
	}
	return []string{webService}
}

// cleanUp stops the standalone tasks, deletes the services once their
// tasks stopped, stops the server, and checks that nothing of the run is
// left: first with the server stopped (only the task network's bridge and
// host table may remain, as a server leaves them for the next), then once
// the task network is removed.
func (d *driver) cleanUp(ctx context.Context) error {
	if d.client() == nil || !d.cp.serving() {
		if err := d.cp.recover(ctx); err != nil {
			return err
		}
	}
	if err := d.stopStandalone(ctx); err != nil {
		return err
	}
	c := d.client()
	for _, s := range d.services() {
		if _, err := d.updateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String(clusterName), Service: aws.String(s), DesiredCount: aws.Int32(0)}); err != nil {
			return fmt.Errorf("UpdateService %s: %w", s, err)
		}
	}
	d.webDesired = 0
	deadline := time.Now().Add(d.cfg.ConvergeTimeout)
	for {
		running, err := listTasks(ctx, c, clusterName, types.DesiredStatusRunning)
		if err != nil {
			return err
		}
		stopped, err := listTasks(ctx, c, clusterName, types.DesiredStatusStopped)
		if err != nil {
			return err
		}
		tasks, err := describeTasks(ctx, c, clusterName, stopped)
		if err != nil {
			return err
		}
		left := len(running)
		for _, t := range tasks {
			if aws.ToString(t.LastStatus) != "STOPPED" {
				left++
			}
		}
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d tasks not STOPPED within %v", left, d.cfg.ConvergeTimeout)
		}
		if err := wait(ctx, pollInterval); err != nil {
			return err
		}
	}
	for _, s := range d.services() {
		if _, err := c.DeleteService(ctx, &ecs.DeleteServiceInput{Cluster: aws.String(clusterName), Service: aws.String(s)}); err != nil {
			return fmt.Errorf("DeleteService %s: %w", s, err)
		}
	}
	if _, err := d.hostCheck(ctx); err != nil {
		return err
	}
	if err := d.cp.stop(); err != nil {
		return err
	}
	found, _, err := d.findOnHosts(ctx, true)
	if err != nil {
		return err
	}
	kept := map[string]bool{}
	for _, h := range d.hosts {
		kept[h.id+" nftables table "+h.names.hostTable] = true
		kept[h.id+" bridge "+h.names.bridge] = true
	}
	if orphans, _ := diff(found, kept); len(orphans) > 0 {
		return fmt.Errorf("left once the server stopped: %v", orphans)
	}
	for _, h := range d.hosts {
		if err := destroyNetwork(ctx, h.names, h.state); err != nil {
			return err
		}
	}
	found, _, err = d.findOnHosts(ctx, true)
	if err != nil {
		return err
	}
	if len(found) > 0 {
		return fmt.Errorf("left once the task network was removed: %v", slices.Sorted(maps.Keys(found)))
	}
	d.removeCgroups()
	d.clean = true
	return nil
}

// removeCgroups removes the cgroups of the run's containers, which runc
// leaves, and kills what is left in them, noting it in the driver's log:
// a server killed while containerd created a container can leave that
// container's "runc init" waiting for a start that never comes, unknown
// to containerd once the container is deleted. Not a failed trial: the
// server reported that container's task as failed to start and replaced
// it; the process is the engine's.
func (d *driver) removeCgroups() {
	for _, h := range d.hosts {
		killed, err := cgroupclean.Remove(h.names.namespace, true)
		if killed > 0 {
			d.logf("killed %d process(es) left in the cgroups of containerd namespace %s", killed, h.names.namespace)
		}
		if err != nil {
			d.logf("remove the cgroups of containerd namespace %s: %v", h.names.namespace, err)
		}
	}
}

// abandon, after a run that did not clean up, kills the server and
// removes what the run left on the host, as far as it can.
func (d *driver) abandon() {
	if d.clean {
		return
	}
	d.cp.kill()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, h := range d.hosts {
		_ = removeContainers(ctx, d.cfg.ContainerdAddress, h.names.namespace)
		_ = destroyNetwork(ctx, h.names, h.state)
	}
	d.removeCgroups()
}
