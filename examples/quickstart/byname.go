package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/stevedore-io/stevedore/agent"
	"github.com/stevedore-io/stevedore/task"
)

// byName shows service discovery: the service answers by name, through
// Stevedore's DNS server on the bridge's gateway. Inside a task, busybox's
// nslookup reads the task's resolv.conf, which points at that server; on
// the host, a Go resolver asks the server directly and the HTTP requests go
// to webapp.quickstart.local.
func (d *demo) byName(ctx context.Context, tasks []*task.Task, version string) error {
	server, ok := d.orc.DNSServerAddr()
	for i := 0; !ok && i < 50; i++ { // bounded: the server binds once the bridge exists
		time.Sleep(100 * time.Millisecond)
		server, ok = d.orc.DNSServerAddr()
	}
	if !ok {
		return fmt.Errorf("the discovery DNS server is not listening")
	}
	name := serviceName + "." + clusterName + ".local"
	fmt.Fprintf(d.out, "   service discovery: DNS server on %v, names %s.local and %s\n", server, serviceName, name)

	// Inside a task: its resolv.conf names the server and searches
	// quickstart.local and local, so the bare service name resolves.
	from := tasks[0]
	execCtx, cancel := context.WithTimeout(ctx, requestTimeout)
	res, err := d.rt.Exec(execCtx, agent.ContainerID(from.ID(), "web"), []string{"nslookup", serviceName})
	cancel()
	if err != nil {
		return fmt.Errorf("nslookup in task %s: %w", from.ID(), err)
	}
	var found []string
	for _, line := range strings.Split(string(res.Output), "\n") {
		// busybox asks for every name of the search list; keep each address once.
		if a, ok := strings.CutPrefix(strings.TrimSpace(line), "Address: "); ok && !strings.Contains(a, "#") && !slices.Contains(found, a) {
			found = append(found, a)
		}
	}
	fmt.Fprintf(d.out, "   in task %s: nslookup %s -> %s\n", from.ID()[:12], serviceName, strings.Join(found, " "))
	if res.ExitCode != 0 || len(found) != len(tasks) {
		return fmt.Errorf("nslookup %s in a task: exit %d, %d addresses, want %d:\n%s", serviceName, res.ExitCode, len(found), len(tasks), res.Output)
	}

	d.outsideName(ctx, from)

	// From the host, by name, through the DNS server.
	resolver := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var dialer net.Dialer
		return dialer.DialContext(ctx, network, server.String())
	}}
	client := &http.Client{
		Timeout:   requestTimeout,
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true, DialContext: (&net.Dialer{Resolver: resolver}).DialContext},
	}
	url := fmt.Sprintf("http://%s:%d/", name, webappPort)
	want := "webapp " + version + " on "
	for range len(tasks) {
		answer, err := get(ctx, client, url)
		if err != nil {
			return fmt.Errorf("GET %s: %w", url, err)
		}
		fmt.Fprintf(d.out, "   by name  GET %s -> %q\n", url, answer)
		if !strings.HasPrefix(answer, want) {
			return fmt.Errorf("%s answered %q, want an answer from %s", url, answer, version)
		}
	}
	return nil
}

// outsideName is the name a task looks up to show forwarding.
const outsideName = "example.com"

// outsideName shows that a task resolves names outside the discovery
// namespace too: the DNS server forwards them to the host's resolvers (its
// resolv.conf, 127.0.0.53 included). Whether the host's resolvers answer
// depends on the host (an offline host gets SERVFAIL), so the demo reports
// what happened and goes on; only REFUSED, a server that does not forward,
// is a problem.
func (d *demo) outsideName(ctx context.Context, from *task.Task) {
	// busybox tries the search list first; each forwarded query may take
	// the server's attempts in full (3 x 2 s).
	execCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	res, err := d.rt.Exec(execCtx, agent.ContainerID(from.ID(), "web"), []string{"nslookup", outsideName})
	if err != nil {
		fmt.Fprintf(d.out, "   in task %s: nslookup %s: %v\n", from.ID()[:12], outsideName, err)
		return
	}
	out := string(res.Output)
	var found []string
	answers := false
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "Name:") {
			answers = true // addresses after the first Name: line are answers, not the server's
		}
		if a, ok := strings.CutPrefix(line, "Address: "); ok && answers && !slices.Contains(found, a) {
			found = append(found, a)
		}
	}
	switch {
	case len(found) > 0:
		fmt.Fprintf(d.out, "   in task %s: nslookup %s -> %s (forwarded to the host's resolvers)\n", from.ID()[:12], outsideName, strings.Join(found, " "))
	case strings.Contains(out, "REFUSED"):
		fmt.Fprintf(d.out, "   PROBLEM: in task %s: nslookup %s was REFUSED: the DNS server does not forward\n", from.ID()[:12], outsideName)
	default:
		fmt.Fprintf(d.out, "   in task %s: nslookup %s -> no answer (forwarded, but the host's resolvers did not answer: offline?)\n", from.ID()[:12], outsideName)
	}
}
