package fake

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/stevedore-io/stevedore/network"
)

// Op names a Provider method in a recorded Call.
type Op string

// Recorded operations.
const (
	OpSetup         Op = "Setup"
	OpTeardown      Op = "Teardown"
	OpReconcile     Op = "Reconcile"
	OpUpdateIngress Op = "UpdateIngress"
)

// Call is one recorded call of Setup, Teardown, Reconcile or
// UpdateIngress.
type Call struct {
	Op      Op
	TaskID  string                 // empty for Reconcile
	Req     *network.Request       // Setup only
	Ingress *network.IngressPolicy // UpdateIngress only: the new policy
	Err     error                  // what the call returned
}

// Provider is an in-memory network.Provider for unit tests of code that
// sets up task networks (agents, examples). It allocates addresses and host
// ports with the real network.Allocator, so exhaustion and port conflicts
// behave as in production, records every call, and can be told to fail. It
// creates no namespace: NetNSPath is a made-up path under /var/run/netns.
// As a network.TaskDialer it connects health checks to listeners the test
// makes with Listen, over net.Pipe. It is safe for concurrent use.
type Provider struct {
	cfg   options
	alloc *network.Allocator

	mu          sync.Mutex
	attachments map[string]*network.Attachment
	ingress     map[string]*network.IngressPolicy // by task ID; nil: unfiltered
	calls       []Call
	setupErr    func(network.Request) error
	teardownErr func(taskID string) error
	listeners   map[listenKey]*listener
}

// options are what the options of New set.
type options struct {
	subnet  netip.Prefix
	dynamic network.PortRange
	dir     string
}

// Option configures a Provider made by New. Options that cannot apply
// return an error, and New panics with it: a bad option is a bug in the
// test that uses the fake.
type Option func(*options) error

// WithSubnet sets the subnet addresses come from (default 10.88.0.0/16).
func WithSubnet(p netip.Prefix) Option {
	return func(o *options) error {
		o.subnet = p
		return nil
	}
}

// WithDynamicPorts sets the dynamic host-port range (default 49153-65535).
func WithDynamicPorts(r network.PortRange) Option {
	return func(o *options) error {
		o.dynamic = r
		return nil
	}
}

// WithFilesDir makes Setup write each task's hosts and resolv.conf files
// under dir, as the Linux provider does; without it the attachment's file
// paths are empty.
func WithFilesDir(dir string) Option {
	return func(o *options) error {
		o.dir = dir
		return nil
	}
}

// New returns an empty fake Provider. It panics when an option is invalid
// (a test-only type: a bad subnet is a bug in the test).
func New(opts ...Option) *Provider {
	cfg := options{subnet: netip.MustParsePrefix("10.88.0.0/16"), dynamic: network.DefaultDynamicPorts}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			panic(fmt.Sprintf("fake network provider: %v", err))
		}
	}
	ipam, err := network.NewIPAM(cfg.subnet, nil)
	if err != nil {
		panic(fmt.Sprintf("fake network provider: %v", err))
	}
	ports, err := network.NewPortAllocator(network.WithDynamicPorts(cfg.dynamic))
	if err != nil {
		panic(fmt.Sprintf("fake network provider: %v", err))
	}
	return &Provider{cfg: cfg, alloc: network.NewAllocator(ipam, ports), attachments: map[string]*network.Attachment{}, ingress: map[string]*network.IngressPolicy{}}
}

var (
	_ network.Provider       = (*Provider)(nil)
	_ network.IngressUpdater = (*Provider)(nil)
)

// FailSetup makes Setup return the error fn returns for a request (nil
// lets it succeed); FailSetup(nil) removes the hook.
func (p *Provider) FailSetup(fn func(network.Request) error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.setupErr = fn
}

// FailTeardown makes Teardown return the error fn returns for a task,
// leaving the attachment in place; FailTeardown(nil) removes the hook.
func (p *Provider) FailTeardown(fn func(taskID string) error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.teardownErr = fn
}

// Setup validates req, allocates for it and records an attachment.
func (p *Provider) Setup(ctx context.Context, req network.Request) (att *network.Attachment, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	reqCopy := req
	defer func() { p.calls = append(p.calls, Call{Op: OpSetup, TaskID: req.TaskID, Req: &reqCopy, Err: err}) }()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := req.Validate(); err != nil {
		return nil, err
	}
	if p.setupErr != nil {
		if err := p.setupErr(req); err != nil {
			return nil, err
		}
	}
	if _, ok := p.attachments[req.TaskID]; ok {
		return nil, fmt.Errorf("%w: task %q", network.ErrExists, req.TaskID)
	}
	a, err := p.alloc.Allocate(req)
	if err != nil {
		return nil, err
	}
	att = &network.Attachment{TaskID: req.TaskID, Mode: req.Mode, Address: a.Address, PortBindings: a.Bindings}
	if req.Mode.HasNamespace() {
		att.NetNSPath = "/var/run/netns/fake-" + req.TaskID
	}
	if req.Mode.HasInterface() {
		att.Gateway = p.alloc.IPAM().Gateway()
		b := a.Address.Addr().As4()
		att.MAC = fmt.Sprintf("02:42:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3])
		att.HostInterface = "fake0"
	}
	if p.cfg.dir != "" {
		if err := p.writeFiles(req, att); err != nil {
			return nil, errors.Join(err, p.alloc.Release(req.TaskID))
		}
	}
	p.attachments[req.TaskID] = att
	p.ingress[req.TaskID] = req.Ingress.Clone()
	return att.Clone(), nil
}

func (p *Provider) writeFiles(req network.Request, att *network.Attachment) error {
	sum := sha256.Sum256([]byte(req.TaskID))
	dir := filepath.Join(p.cfg.dir, "task-"+hex.EncodeToString(sum[:8]))
	att.HostsPath = filepath.Join(dir, "hosts")
	att.ResolvConfPath = filepath.Join(dir, "resolv.conf")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(att.HostsPath, network.RenderHosts(req.Hostname, att.Address.Addr(), req.ExtraHosts), 0o644); err != nil {
		return err
	}
	return os.WriteFile(att.ResolvConfPath, network.RenderResolvConf(req.DNS, nil, true), 0o644)
}

// Teardown forgets the task's attachment and releases what it held.
func (p *Provider) Teardown(ctx context.Context, taskID string) (err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	defer func() { p.calls = append(p.calls, Call{Op: OpTeardown, TaskID: taskID, Err: err}) }()
	if err := ctx.Err(); err != nil {
		return err
	}
	if p.teardownErr != nil {
		if err := p.teardownErr(taskID); err != nil {
			return err
		}
	}
	return p.teardownLocked(taskID)
}

func (p *Provider) teardownLocked(taskID string) error {
	if att, ok := p.attachments[taskID]; ok && att.HostsPath != "" {
		os.RemoveAll(filepath.Dir(att.HostsPath))
	}
	delete(p.attachments, taskID)
	delete(p.ingress, taskID)
	return p.alloc.Release(taskID)
}

// UpdateIngress validates policy and records it as the task's; see
// network.IngressUpdater.
func (p *Provider) UpdateIngress(ctx context.Context, taskID string, policy *network.IngressPolicy) (err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	defer func() {
		p.calls = append(p.calls, Call{Op: OpUpdateIngress, TaskID: taskID, Ingress: policy.Clone(), Err: err})
	}()
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := policy.Validate(); err != nil {
		return err
	}
	att, ok := p.attachments[taskID]
	if !ok {
		return fmt.Errorf("%w: task %q", network.ErrNotFound, taskID)
	}
	if !att.Mode.HasInterface() {
		return fmt.Errorf("%w: task %q: ingress filtering needs awsvpc or bridge mode, not %s", network.ErrInvalid, taskID, att.Mode)
	}
	p.ingress[taskID] = policy.Clone()
	return nil
}

// Ingress returns a copy of the ingress policy in force for a task (from
// Setup or the latest UpdateIngress; nil when unfiltered) and whether the
// task has an attachment.
func (p *Provider) Ingress(taskID string) (*network.IngressPolicy, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.attachments[taskID]
	return p.ingress[taskID].Clone(), ok
}

// Attachment returns a copy of the task's attachment.
func (p *Provider) Attachment(_ context.Context, taskID string) (*network.Attachment, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	att, ok := p.attachments[taskID]
	if !ok {
		return nil, fmt.Errorf("%w: task %q", network.ErrNotFound, taskID)
	}
	return att.Clone(), nil
}

// Reconcile tears down every attachment keep rejects.
func (p *Provider) Reconcile(ctx context.Context, keep func(taskID string) bool) (err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	defer func() { p.calls = append(p.calls, Call{Op: OpReconcile, Err: err}) }()
	if err := ctx.Err(); err != nil {
		return err
	}
	var errs []error
	for _, id := range slices.Sorted(maps.Keys(p.attachments)) {
		if !keep(id) {
			errs = append(errs, p.teardownLocked(id))
		}
	}
	return errors.Join(errs...)
}

// Calls returns the recorded calls in order.
func (p *Provider) Calls() []Call {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.calls)
}

// TaskIDs returns the tasks that have an attachment, sorted.
func (p *Provider) TaskIDs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Sorted(maps.Keys(p.attachments))
}

// Allocator returns the allocator, for tests that inspect addresses and
// ports or pre-reserve some.
func (p *Provider) Allocator() *network.Allocator { return p.alloc }
