package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/stevedore-io/stevedore/network"
)

// sharedNetwork lets the three container instances of the demo, which all
// live on this host, use one network provider (one bridge, one subnet, one
// IPAM).
//
// A provider used as it is cannot be shared: every agent calls Reconcile
// when it starts, with a keep function that knows only its own instance's
// tasks, and Reconcile tears down every other task's network. An agent
// that starts (or restarts) while another instance's tasks are being set up
// would pull their namespaces from under them. Each instance therefore gets
// a view of the provider whose Reconcile keeps the tasks that another
// instance set up, and decides only about its own and about those nobody
// claims (what a crashed run left behind).
type sharedNetwork struct {
	provider network.Provider

	mu    sync.Mutex
	owner map[string]string // task ID -> instance ID
}

func newSharedNetwork(p network.Provider) *sharedNetwork {
	return &sharedNetwork{provider: p, owner: map[string]string{}}
}

// forInstance returns the provider the instance's agent uses.
func (s *sharedNetwork) forInstance(instanceID string) network.Provider {
	return &instanceNetwork{shared: s, instance: instanceID}
}

func (s *sharedNetwork) claim(taskID, instanceID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.owner[taskID] = instanceID
}

func (s *sharedNetwork) release(taskID, instanceID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.owner[taskID] == instanceID {
		delete(s.owner, taskID)
	}
}

// ownedElsewhere reports whether another instance claims the task.
func (s *sharedNetwork) ownedElsewhere(taskID, instanceID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	owner, ok := s.owner[taskID]
	return ok && owner != instanceID
}

// instanceNetwork is one instance's view of a sharedNetwork.
type instanceNetwork struct {
	shared   *sharedNetwork
	instance string
}

var (
	_ network.Provider   = (*instanceNetwork)(nil)
	_ network.TaskDialer = (*instanceNetwork)(nil)
)

// Setup claims the task for the instance before setting it up, so that a
// Reconcile of another instance running meanwhile keeps it.
func (n *instanceNetwork) Setup(ctx context.Context, req network.Request) (*network.Attachment, error) {
	n.shared.claim(req.TaskID, n.instance)
	att, err := n.shared.provider.Setup(ctx, req)
	if err != nil && !errors.Is(err, network.ErrExists) {
		// A failed Setup leaves nothing behind.
		n.shared.release(req.TaskID, n.instance)
	}
	return att, err
}

// Teardown removes the task's network and its claim.
func (n *instanceNetwork) Teardown(ctx context.Context, taskID string) error {
	if err := n.shared.provider.Teardown(ctx, taskID); err != nil {
		return err
	}
	n.shared.release(taskID, n.instance)
	return nil
}

// Attachment returns the task's attachment.
func (n *instanceNetwork) Attachment(ctx context.Context, taskID string) (*network.Attachment, error) {
	return n.shared.provider.Attachment(ctx, taskID)
}

// DialTask dials from inside the task's network namespace, for HTTP and
// TCP health checks (see network.TaskDialer).
func (n *instanceNetwork) DialTask(ctx context.Context, taskID, nw, addr string) (net.Conn, error) {
	d, ok := n.shared.provider.(network.TaskDialer)
	if !ok {
		return nil, fmt.Errorf("%T cannot dial into tasks", n.shared.provider)
	}
	return d.DialTask(ctx, taskID, nw, addr)
}

// Reconcile tears down the tasks that keep turns down, except those that
// another instance claims.
func (n *instanceNetwork) Reconcile(ctx context.Context, keep func(taskID string) bool) error {
	var (
		mu      sync.Mutex
		dropped []string
	)
	err := n.shared.provider.Reconcile(ctx, func(taskID string) bool {
		if n.shared.ownedElsewhere(taskID, n.instance) || keep(taskID) {
			return true
		}
		mu.Lock()
		defer mu.Unlock()
		dropped = append(dropped, taskID)
		return false
	})
	if err == nil {
		for _, id := range dropped {
			n.shared.release(id, n.instance)
		}
	}
	return err
}
