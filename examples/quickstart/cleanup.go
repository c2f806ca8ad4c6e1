package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/service"
	"github.com/stevedore-io/stevedore/task"
)

// serviceDeleteTimeout bounds the wait for the service's tasks to stop,
// within the clean-up's own timeout.
const serviceDeleteTimeout = time.Minute

// cleanup removes whatever the run created, in the reverse order, and
// checks that nothing is left: the service and its tasks, the instances,
// the cluster, the Orchestrator, then (as a safety net that reports what it
// finds) containers, task networks and the bridge, and the temporary
// directory. It runs on its own context: the run's may be cancelled by
// then.
func (d *demo) cleanup() error {
	fmt.Fprintf(d.out, "\n== Step %d/%d: Clean up\n", steps, steps)
	t0 := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), d.cfg.CleanupTimeout)
	defer cancel()
	var errs []error
	problem := func(err error) {
		errs = append(errs, err)
		fmt.Fprintf(d.out, "   PROBLEM: %v\n", err)
	}

	if d.orc != nil {
		if d.service {
			if err := d.deleteService(ctx); err != nil {
				problem(err)
			}
		}
		for _, id := range d.instances {
			_, err := d.orc.DeregisterContainerInstance(ctx, &stevedore.DeregisterContainerInstanceInput{Cluster: clusterName, ContainerInstance: id})
			if errors.Is(err, stevedore.ErrInUse) {
				problem(fmt.Errorf("instance %s still has tasks after the service was deleted: %w", id, err))
				_, err = d.orc.DeregisterContainerInstance(ctx, &stevedore.DeregisterContainerInstanceInput{Cluster: clusterName, ContainerInstance: id, Force: true})
			}
			if err != nil {
				problem(fmt.Errorf("deregister instance %s: %w", id, err))
			}
		}
		if len(d.instances) > 0 {
			fmt.Fprintf(d.out, "   deregistered instances %s\n", strings.Join(d.instances, ", "))
		}
		if d.cluster {
			if _, err := d.orc.DeleteCluster(ctx, &stevedore.DeleteClusterInput{Cluster: clusterName}); err != nil {
				problem(fmt.Errorf("delete cluster %s: %w", clusterName, err))
			} else {
				fmt.Fprintf(d.out, "   deleted cluster %s\n", clusterName)
			}
		}
		if err := d.orc.Close(); err != nil {
			problem(fmt.Errorf("close the orchestrator: %w", err))
		} else {
			fmt.Fprintln(d.out, "   closed the orchestrator (its agents stopped)")
		}
	}
	if d.balancer != nil || d.targets != nil {
		if err := d.closeLoadBalancer(); err != nil {
			problem(fmt.Errorf("close the load balancer: %w", err))
		} else {
			fmt.Fprintln(d.out, "   closed the load balancer")
		}
	}

	if d.rt != nil {
		// The agents removed their tasks' containers; anything still there
		// is a bug worth reporting, and is removed all the same.
		left, err := d.rt.List(ctx, nil)
		if err != nil {
			problem(fmt.Errorf("list containers: %w", err))
		}
		if len(left) > 0 {
			ids := make([]string, 0, len(left))
			for _, c := range left {
				ids = append(ids, fmt.Sprintf("%s (%s)", c.ID, c.State))
				if err := d.rt.Delete(ctx, c.ID); err != nil {
					problem(fmt.Errorf("delete container %s: %w", c.ID, err))
				}
			}
			problem(fmt.Errorf("containers left after the service was deleted (now removed): %s", strings.Join(ids, ", ")))
		}
		if err := d.rt.LeakCheck(ctx); err != nil {
			problem(err)
		}
		for _, ref := range d.images {
			if err := d.rt.RemoveImage(ctx, ref); err != nil {
				problem(fmt.Errorf("remove image %s: %w", ref, err))
			}
		}
		if len(d.images) > 0 {
			fmt.Fprintf(d.out, "   removed images %s (their snapshots and content with them)\n", strings.Join(d.images, ", "))
		}
	}

	if d.nw != nil {
		before, _ := d.nw.Leftovers()
		if err := d.nw.Destroy(ctx); err != nil {
			problem(fmt.Errorf("tear down the task networks and the bridge: %w", err))
		}
		if err := d.waitNoNetworkLeftovers(ctx); err != nil {
			problem(err)
		}
		if err := d.nw.Close(); err != nil {
			problem(fmt.Errorf("close the network provider: %w", err))
		}
		fmt.Fprintf(d.out, "   removed bridge %s and the tasks' network namespaces (%d objects before)\n", d.cfg.Bridge, len(before))
	}
	if d.rt != nil {
		if err := d.rt.Close(); err != nil {
			problem(fmt.Errorf("close the containerd connection: %w", err))
		}
	}
	if d.tmpDir != "" {
		if err := os.RemoveAll(d.tmpDir); err != nil {
			problem(fmt.Errorf("remove %s: %w", d.tmpDir, err))
		}
	}
	if d.lockFile != nil {
		// Removed while held, then released: a quickstart that opened the
		// file meanwhile failed to lock it and gave up.
		os.Remove(d.lockFile.Name())
		d.lockFile.Close()
	}
	if len(errs) == 0 {
		fmt.Fprintf(d.out, "   all clean: no containers, namespaces, veths, bridge or nftables tables left (%s)\n", round(time.Since(t0)))
	}
	return errors.Join(errs...)
}

// deleteService deletes the service with force and waits until it is
// INACTIVE and every one of its tasks STOPPED.
func (d *demo) deleteService(ctx context.Context) error {
	if _, err := d.orc.DeleteService(ctx, &stevedore.DeleteServiceInput{Cluster: clusterName, Service: serviceName, Force: true}); err != nil {
		return fmt.Errorf("delete service %s: %w", serviceName, err)
	}
	fmt.Fprintf(d.out, "   deleted service %s (force): its tasks stop\n", serviceName)
	ctx, cancel := context.WithTimeout(ctx, serviceDeleteTimeout)
	defer cancel()
	start := time.Now()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	last := ""
	for {
		status, alive, err := d.serviceRemains(ctx)
		if err == nil {
			now := fmt.Sprintf("service %s, %d tasks not STOPPED yet", status, len(alive))
			if now != last {
				fmt.Fprintf(d.out, "   %-8s %s\n", "+"+round(time.Since(start)), now)
				last = now
			}
			if status == service.StatusInactive && len(alive) == 0 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("service %s: tasks still not stopped after %s (%s): %s", serviceName,
				serviceDeleteTimeout, last, strings.Join(alive, ", "))
		case <-tick.C:
		}
	}
}

// serviceRemains returns the service's status and the tasks of it that are
// not STOPPED, as "id lastStatus".
func (d *demo) serviceRemains(ctx context.Context) (service.Status, []string, error) {
	svc, err := d.describeService(ctx)
	if err != nil {
		return "", nil, err
	}
	var ids []string
	for _, desired := range []task.Status{task.Running, task.Stopped} {
		more, err := d.orc.AllTaskArns(ctx, &stevedore.ListTasksInput{Cluster: clusterName, ServiceName: serviceName, DesiredStatus: desired})
		if err != nil {
			return "", nil, err
		}
		ids = append(ids, more...)
	}
	var alive []string
	if len(ids) > 0 {
		tasks, err := d.describeTasks(ctx, ids)
		if err != nil {
			return "", nil, err
		}
		for _, t := range tasks {
			if t.LastStatus != task.Stopped {
				alive = append(alive, t.ID()+" "+string(t.LastStatus))
			}
		}
	}
	return svc.Status, alive, nil
}

// waitNoNetworkLeftovers waits briefly for the kernel to finish removing
// deleted namespaces' veths, and reports what is still there.
func (d *demo) waitNoNetworkLeftovers(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for {
		left, err := d.nw.Leftovers()
		if err != nil {
			return fmt.Errorf("list network leftovers: %w", err)
		}
		if len(left) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("network objects left behind: %s", strings.Join(left, ", "))
		case <-time.After(100 * time.Millisecond):
		}
	}
}
