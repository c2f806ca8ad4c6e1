package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/service"
	"github.com/stevedore-io/stevedore/task"
)

// pollInterval is how often a watcher describes the service when no event
// arrives: events wake it sooner, polling catches what events do not carry
// (a task turning healthy changes the deployment's counters).
const pollInterval = 500 * time.Millisecond

// watcher follows the service through the Orchestrator's events and
// DescribeServices, and shows the progress of its deployments.
type watcher struct {
	d      *demo
	ctx    context.Context
	cancel context.CancelFunc
	events <-chan stevedore.Event
	p      *progress
	seen   map[string]bool // service events already shown
}

// watch subscribes to the Orchestrator's events. Call it before the action
// to watch, so that no event of the action is missed.
func (d *demo) watch(ctx context.Context) (*watcher, error) {
	wctx, cancel := context.WithCancel(ctx)
	events, err := d.orc.Subscribe(wctx)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("subscribe to events: %w", err)
	}
	w := &watcher{d: d, ctx: ctx, cancel: cancel, events: events, seen: map[string]bool{},
		p: &progress{out: d.out, tty: d.cfg.Terminal, start: time.Now()}}
	// Events of earlier steps are not news.
	if svc, err := d.describeService(ctx); err == nil {
		for _, e := range svc.Events {
			w.seen[e.ID] = true
		}
	}
	return w, nil
}

// stop ends the subscription.
func (w *watcher) stop() { w.cancel() }

// until shows the service's progress until done says it is finished or
// fails, at most for timeout. A timeout, a failure or the end of the
// watcher's context is an error that tells what the service was doing.
func (w *watcher) until(timeout time.Duration, what string, done func(service.Service) (bool, error)) (service.Service, error) {
	ctx, cancel := context.WithTimeout(w.ctx, timeout)
	defer cancel()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	events := w.events
	var last service.Service
	for {
		svc, err := w.d.describeService(ctx)
		if err == nil {
			last = svc
			w.showEvents(last)
			w.p.update(last)
			ok, err := done(last)
			if err != nil {
				w.p.finish()
				return last, fmt.Errorf("%w\n%s", err, w.d.diagnose())
			}
			if ok {
				w.p.finish()
				return last, nil
			}
		} else if err != nil && ctx.Err() == nil {
			w.p.finish()
			return last, fmt.Errorf("describe service %s: %w", serviceName, err)
		}
		select {
		case ev, ok := <-events:
			if !ok {
				events = nil // dropped for falling behind: polling carries on
				continue
			}
			w.show(ev)
		case <-tick.C:
		case <-ctx.Done():
			w.p.finish()
			if w.ctx.Err() != nil {
				return last, w.ctx.Err()
			}
			return last, fmt.Errorf("timed out after %s waiting for %s; the service was at: %s\n%s",
				timeout, what, summary(last), w.d.diagnose())
		}
	}
}

// showEvents prints the service's events not shown yet, oldest first. They
// come with the service's state, so what the progress shows next follows
// them.
func (w *watcher) showEvents(s service.Service) {
	for i := len(s.Events) - 1; i >= 0; i-- {
		e := s.Events[i]
		if w.seen[e.ID] {
			continue
		}
		w.seen[e.ID] = true
		w.p.line(fmt.Sprintf("   %-8s %s", "+"+round(max(e.CreatedAt.Sub(w.p.start), 0)), e.Message))
	}
}

// follow shows the service's events and failing tasks until the watcher's
// context ends (-keep).
func (w *watcher) follow() {
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	events := w.events
	for {
		if svc, err := w.d.describeService(w.ctx); err == nil {
			w.showEvents(svc)
		}
		select {
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			w.show(ev)
		case <-tick.C:
		case <-w.ctx.Done():
			return
		}
	}
}

// show prints the events of the Orchestrator's stream worth a line: tasks
// that fail. (The service's own events come with its state; see
// showEvents.)
func (w *watcher) show(ev stevedore.Event) {
	at := "+" + round(time.Since(w.p.start))
	if ev.Type == stevedore.EventTaskStateChange {
		t := ev.Task
		if t == nil || t.Group != "service:"+serviceName {
			return
		}
		switch {
		case t.LastStatus == task.Stopped && t.StopCode != task.ServiceSchedulerInitiated:
			w.p.line(fmt.Sprintf("   %-8s task %s (%s) STOPPED: %s %s%s", at, t.ID(), t.TaskDefinitionRef(),
				t.StopCode, t.StoppedReason, containerReasons(t)))
		case t.HealthStatus == task.Unhealthy:
			w.p.line(fmt.Sprintf("   %-8s task %s (%s) is UNHEALTHY", at, t.ID(), t.TaskDefinitionRef()))
		}
	}
}

// summary is a one-line view of a service's deployments.
func summary(s service.Service) string {
	if len(s.Deployments) == 0 {
		return "no deployment yet"
	}
	parts := make([]string, 0, len(s.Deployments))
	for _, dep := range s.Deployments {
		parts = append(parts, counters(dep))
	}
	return strings.Join(parts, "; ")
}

func counters(dep service.Deployment) string {
	return fmt.Sprintf("%s %s %s desired %d pending %d running %d healthy %d", dep.TaskDefinition, dep.Status,
		dep.RolloutState, dep.DesiredCount, dep.PendingCount, dep.RunningCount, dep.HealthyCount)
}

// containerReasons tells how a stopped task's containers ended.
func containerReasons(t *task.Task) string {
	var b strings.Builder
	for _, c := range t.Containers {
		b.WriteString("; container " + c.Name)
		if c.ExitCode != nil {
			fmt.Fprintf(&b, " exit code %d", *c.ExitCode)
		}
		if c.Reason != "" && c.Reason != t.StoppedReason {
			b.WriteString(" " + c.Reason)
		}
	}
	return b.String()
}

// diagnose gathers what explains a failed wait: the service's latest events
// and its latest stopped tasks with their reasons. It never fails: what it
// cannot read it says so.
func (d *demo) diagnose() string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var b strings.Builder
	svc, err := d.describeService(ctx)
	if err != nil {
		fmt.Fprintf(&b, "   (cannot describe the service: %v)\n", err)
	} else {
		evs := svc.Events
		if len(evs) > 8 {
			evs = evs[:8]
		}
		b.WriteString("   latest service events:\n")
		for i := len(evs) - 1; i >= 0; i-- {
			fmt.Fprintf(&b, "     %s %s\n", evs[i].CreatedAt.Format("15:04:05.000"), evs[i].Message)
		}
	}
	ids, err := d.orc.AllTaskArns(ctx, &stevedore.ListTasksInput{Cluster: clusterName, ServiceName: serviceName, DesiredStatus: task.Stopped})
	if err == nil && len(ids) > 0 {
		tasks, err := d.describeTasks(ctx, ids)
		if err == nil {
			slices.SortFunc(tasks, func(a, b *task.Task) int { return b.StoppingAt.Compare(a.StoppingAt) })
			if len(tasks) > 5 {
				tasks = tasks[:5]
			}
			b.WriteString("   latest tasks told to stop:\n")
			for _, t := range tasks {
				fmt.Fprintf(&b, "     %s (%s) %s: %s %s%s\n", t.ID(), t.TaskDefinitionRef(), t.LastStatus,
					t.StopCode, t.StoppedReason, containerReasons(t))
			}
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

// progress shows the deployments of a service: a line per change when
// output is not a terminal, progress bars redrawn in place when it is.
type progress struct {
	out   io.Writer
	tty   bool
	start time.Time
	block []string // the bars currently shown (tty)
	drawn int      // lines of the block on screen (tty)
	last  string   // the last block printed (plain)
	// traffic, when set, tells how the requests through the load balancer
	// fare; a terminal shows it live under the bars.
	traffic func() string
}

// barWidth is the width of a progress bar in cells.
const barWidth = 24

// update shows the service's deployments.
func (p *progress) update(s service.Service) {
	if !p.tty {
		var lines []string
		for _, dep := range s.Deployments {
			lines = append(lines, fmt.Sprintf("%-9s %-8s %-11s desired %d  pending %d  running %d  healthy %d",
				dep.TaskDefinition, dep.Status, dep.RolloutState, dep.DesiredCount, dep.PendingCount,
				dep.RunningCount, dep.HealthyCount))
		}
		joined := strings.Join(lines, "\n")
		if joined == p.last {
			return
		}
		p.last = joined
		at := "+" + round(time.Since(p.start))
		for i, l := range lines {
			if i > 0 {
				at = ""
			}
			fmt.Fprintf(p.out, "   %-8s %s\n", at, l)
		}
		return
	}
	p.block = p.block[:0]
	for _, dep := range s.Deployments {
		scale := max(dep.DesiredCount, dep.RunningCount+dep.PendingCount, s.DesiredCount, 1)
		p.block = append(p.block, fmt.Sprintf("   %-9s %-8s %s healthy %d/%d  running %d  pending %d  %s",
			dep.TaskDefinition, dep.Status, bar(dep, scale), dep.HealthyCount, dep.DesiredCount,
			dep.RunningCount, dep.PendingCount, dep.RolloutState))
	}
	if p.traffic != nil {
		p.block = append(p.block, "   via the load balancer: "+p.traffic())
	}
	p.block = append(p.block, fmt.Sprintf("   elapsed %s   (█ healthy  ▓ running  ▒ pending)", round(time.Since(p.start))))
	p.redraw()
}

// bar draws a deployment's tasks: healthy, running, pending, then room up
// to scale.
func bar(dep service.Deployment, scale int) string {
	cell := func(n int) int { return n * barWidth / scale }
	healthy := min(dep.HealthyCount, dep.RunningCount)
	h := cell(healthy)
	r := cell(dep.RunningCount) - h
	pd := min(cell(dep.RunningCount+dep.PendingCount), barWidth) - h - r
	rest := max(barWidth-h-r-pd, 0)
	return "[" + strings.Repeat("█", h) + strings.Repeat("▓", r) + strings.Repeat("▒", pd) + strings.Repeat("·", rest) + "]"
}

// line prints a message above the bars.
func (p *progress) line(msg string) {
	if !p.tty {
		fmt.Fprintln(p.out, msg)
		return
	}
	p.erase()
	fmt.Fprintln(p.out, msg)
	p.redraw()
}

func (p *progress) erase() {
	if p.drawn > 0 {
		fmt.Fprintf(p.out, "\x1b[%dA\x1b[J", p.drawn)
		p.drawn = 0
	}
}

func (p *progress) redraw() {
	p.erase()
	for _, l := range p.block {
		fmt.Fprintln(p.out, l)
	}
	p.drawn = len(p.block)
}

// finish leaves the last bars on screen for good.
func (p *progress) finish() {
	p.drawn = 0
	p.block = nil
}
