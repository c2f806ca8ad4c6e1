package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/stevedore-io/stevedore/task"
)

// requestTimeout bounds each HTTP request of the demo.
const requestTimeout = 5 * time.Second

// traffic sends cfg.Requests GETs to every task, round-robin as a client
// spreading its requests would, prints the answers and checks that every
// task answers with the expected version.
func (d *demo) traffic(ctx context.Context, tasks []*task.Task, version string) error {
	if len(tasks) == 0 {
		return fmt.Errorf("no task to send requests to")
	}
	client := &http.Client{
		Timeout: requestTimeout,
		// Straight to the task: no proxy from the environment, no
		// connection kept between requests (each one may go elsewhere).
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
	}
	fmt.Fprintf(d.out, "   traffic: %d requests to each task's http://IP:%d/\n", d.cfg.Requests, webappPort)
	want := "webapp " + version + " on "
	for i := 0; i < d.cfg.Requests; i++ {
		for _, t := range tasks {
			ip, err := netip.ParseAddr(t.PrivateIPv4Address())
			if err != nil {
				return fmt.Errorf("task %s has no address: %w", t.ID(), err)
			}
			// Only addresses of the namespaces this demo created.
			if !d.cfg.Subnet.Contains(ip) {
				return fmt.Errorf("task %s has address %v, outside the demo's subnet %v", t.ID(), ip, d.cfg.Subnet)
			}
			url := "http://" + netip.AddrPortFrom(ip, webappPort).String() + "/"
			t0 := time.Now()
			answer, err := get(ctx, client, url)
			took := time.Since(t0)
			if err != nil {
				return fmt.Errorf("GET %s (task %s in %s): %w", url, t.ID(), d.zoneOf[t.ContainerInstanceID()], err)
			}
			fmt.Fprintf(d.out, "   %-8s GET %-26s -> %q (%s)\n", d.zoneOf[t.ContainerInstanceID()], url, answer, round(took))
			if !strings.HasPrefix(answer, want) {
				return fmt.Errorf("task %s (%s) answered %q, want an answer from %s", t.ID(), t.TaskDefinitionRef(), answer, version)
			}
		}
	}
	return nil
}

// get fetches url and returns the body's first line.
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
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %s: %s", strconv.Quote(resp.Status), strings.TrimSpace(string(body)))
	}
	first, _, _ := strings.Cut(string(body), "\n")
	return first, nil
}
