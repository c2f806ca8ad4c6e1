// Package stevedoretest is a kit for unit tests of orchestration logic, as
// controller-runtime's envtest and Nomad's mock driver are for theirs: an
// Orchestrator with a cluster of fake instances spread over availability
// zones, task definitions from ECS JSON, faults injected into a task or an
// instance, and waits that work inside a testing/synctest bubble.
//
// Run a test inside synctest.Test: the fake runtime's processes, the health
// checks and the Orchestrator's loops then run on the bubble's fake clock,
// so minutes of health checks and deployments take milliseconds, and their
// timing is the same on every run. Which instance a task lands on may
// vary with the order the loops' writes arrive in, and with it a zone
// rebalancing after a deployment (a task more for a while): wait for
// WaitSteady before counting tasks.
//
//	func TestRollsBackWhenV2FailsItsHealthChecks(t *testing.T) {
//		synctest.Test(t, func(t *testing.T) {
//			env := stevedoretest.New(t, stevedoretest.WithZones("a", "b", "c"))
//			env.Register(webV1)
//			env.CreateService(stevedore.CreateServiceInput{ServiceName: "web", TaskDefinition: "web", DesiredCount: 3,
//				DeploymentConfiguration: service.DeploymentConfiguration{
//					CircuitBreaker: &service.CircuitBreaker{Enable: true, Rollback: true}}})
//			env.WaitSteady("web")
//			env.FailHealthChecks("web:2")
//			env.Register(webV2)
//			env.UpdateService(stevedore.UpdateServiceInput{Service: "web", TaskDefinition: ptr("web:2")})
//			svc := env.WaitRollout("web", service.RolloutCompleted)
//			assert.Equal(t, "web:1", svc.TaskDefinition)
//		})
//	}
//
// Every helper fails the test (t.Fatal) when what it asks of the
// Orchestrator fails, and everything New creates is closed by t.Cleanup.
// Every instance's agent keeps its files in a directory of the test's
// own (t.TempDir), removed when the test ends.
package stevedoretest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/agent"
	"github.com/stevedore-io/stevedore/cluster"
	netfake "github.com/stevedore-io/stevedore/network/fake"
	"github.com/stevedore-io/stevedore/runtime/fake"
	"github.com/stevedore-io/stevedore/service"
	"github.com/stevedore-io/stevedore/task"
)

// Defaults of New.
const (
	// DefaultCluster is the cluster's name.
	DefaultCluster = "test"
	// DefaultWaitTimeout bounds every wait. Inside a synctest bubble it is
	// fake time, which costs nothing while the Orchestrator is idle.
	DefaultWaitTimeout = 30 * time.Minute
	// pollEvery is how often a wait looks again.
	pollEvery = 100 * time.Millisecond
)

// DefaultResources are the resources of every instance: 4 vCPUs, 8 GiB and
// 16 task networks.
var DefaultResources = cluster.Resources{CPU: 4096, Memory: 8192, NetworkSlots: 16}

// Option configures New.
type Option func(*config) error

type config struct {
	cluster      string
	instances    int
	zones        []string
	resources    cluster.Resources
	definitions  []string
	runtimeOpts  []fake.Option
	orchestrator []stevedore.Option
	timeout      time.Duration
}

// WithCluster names the cluster (default DefaultCluster).
func WithCluster(name string) Option {
	return func(c *config) error {
		if name == "" {
			return errors.New("stevedoretest: WithCluster: empty name")
		}
		c.cluster = name
		return nil
	}
}

// WithInstances registers n instances (default: one per zone, or 3).
func WithInstances(n int) Option {
	return func(c *config) error {
		if n < 0 {
			return fmt.Errorf("stevedoretest: WithInstances: %d is negative", n)
		}
		c.instances = n
		return nil
	}
}

// WithZones spreads the instances over these availability zones, in turn
// (attribute ecs.availability-zone; default "zone-a", "zone-b", "zone-c").
func WithZones(zones ...string) Option {
	return func(c *config) error {
		if len(zones) == 0 || slices.Contains(zones, "") {
			return errors.New("stevedoretest: WithZones: give at least one non-empty zone")
		}
		c.zones = zones
		return nil
	}
}

// WithResources gives every instance r (default DefaultResources).
func WithResources(r cluster.Resources) Option {
	return func(c *config) error {
		c.resources = r
		return nil
	}
}

// WithDefinitions registers task definitions, given as ECS JSON, before New
// returns.
func WithDefinitions(jsons ...string) Option {
	return func(c *config) error {
		c.definitions = append(c.definitions, jsons...)
		return nil
	}
}

// WithRuntimeOptions passes opts to every instance's fake runtime (see
// package runtime/fake), for scripts that hold from the start.
func WithRuntimeOptions(opts ...fake.Option) Option {
	return func(c *config) error {
		c.runtimeOpts = append(c.runtimeOpts, opts...)
		return nil
	}
}

// WithOrchestratorOptions passes opts to stevedore.New. The kit adds
// WithSeed(1) before them, so that placement is reproducible unless they
// set another seed.
func WithOrchestratorOptions(opts ...stevedore.Option) Option {
	return func(c *config) error {
		c.orchestrator = append(c.orchestrator, opts...)
		return nil
	}
}

// WithWaitTimeout bounds every wait (default DefaultWaitTimeout).
func WithWaitTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("stevedoretest: WithWaitTimeout: %v is not positive", d)
		}
		c.timeout = d
		return nil
	}
}

// Env is an Orchestrator with one cluster of fake instances.
type Env struct {
	// O is the Orchestrator, for everything the kit does not wrap.
	O *stevedore.Orchestrator
	// Cluster is the cluster's name.
	Cluster string
	// Instances are the registered instances, in registration order.
	Instances []*Instance

	t       testing.TB
	ctx     context.Context
	timeout time.Duration
}

// Instance is one fake container instance.
type Instance struct {
	// ID is the instance's ID: "i-" and 17 hex digits, numbered from 1.
	ID string
	// Zone is its ecs.availability-zone.
	Zone string
	// Runtime and Network are its fakes: script them, look at their calls.
	Runtime *fake.Runtime
	Network *netfake.Provider
}

// New returns an Env: an Orchestrator (memory store, seed 1), a cluster,
// its instances over the zones, and the definitions of WithDefinitions. It
// is closed when the test ends.
func New(t testing.TB, opts ...Option) *Env {
	t.Helper()
	c := config{cluster: DefaultCluster, zones: []string{"zone-a", "zone-b", "zone-c"}, resources: DefaultResources, timeout: DefaultWaitTimeout, instances: -1}
	for _, opt := range opts {
		if err := opt(&c); err != nil {
			t.Fatal(err)
		}
	}
	if c.instances < 0 {
		c.instances = len(c.zones)
	}
	o, err := stevedore.New(append([]stevedore.Option{stevedore.WithSeed(1)}, c.orchestrator...)...)
	if err != nil {
		t.Fatalf("stevedoretest: New: %v", err)
	}
	t.Cleanup(func() { o.Close() })
	e := &Env{O: o, Cluster: c.cluster, t: t, ctx: context.Background(), timeout: c.timeout}
	if _, err := o.CreateCluster(e.ctx, &stevedore.CreateClusterInput{ClusterName: c.cluster}); err != nil {
		t.Fatalf("stevedoretest: CreateCluster: %v", err)
	}
	for i := range c.instances {
		e.AddInstance(c.zones[i%len(c.zones)], c.resources, c.runtimeOpts...)
	}
	for _, js := range c.definitions {
		e.Register(js)
	}
	return e
}

// AddInstance registers one more fake instance in zone.
func (e *Env) AddInstance(zone string, r cluster.Resources, opts ...fake.Option) *Instance {
	e.t.Helper()
	in := &Instance{ID: fmt.Sprintf("i-%017x", len(e.Instances)+1), Zone: zone, Runtime: fake.New(opts...), Network: netfake.New()}
	e.t.Cleanup(in.Runtime.Close)
	_, err := e.O.RegisterContainerInstance(e.ctx, &stevedore.RegisterContainerInstanceInput{
		Cluster: e.Cluster, InstanceID: in.ID, Resources: r,
		StateDir:   e.t.TempDir(), // the test's own: removed when it ends
		Attributes: map[string]string{"ecs.availability-zone": zone},
		Runtime:    in.Runtime, Network: in.Network,
	})
	if err != nil {
		e.t.Fatalf("stevedoretest: register instance %s: %v", in.ID, err)
	}
	e.Instances = append(e.Instances, in)
	return in
}

// Register registers a task definition given as ECS JSON (any shape
// task.ParseDefinition takes) and returns it with its revision.
func (e *Env) Register(js string) *task.TaskDefinition {
	e.t.Helper()
	td, _, err := task.ParseDefinition([]byte(js))
	if err != nil {
		e.t.Fatalf("stevedoretest: parse task definition: %v", err)
	}
	out, err := e.O.RegisterTaskDefinition(e.ctx, &stevedore.RegisterTaskDefinitionInput{TaskDefinition: *td})
	if err != nil {
		e.t.Fatalf("stevedoretest: register task definition %s: %v", td.Family, err)
	}
	return out.TaskDefinition
}

// CreateService creates a service in the Env's cluster (in.Cluster may be
// left empty).
func (e *Env) CreateService(in stevedore.CreateServiceInput) *service.Service {
	e.t.Helper()
	if in.Cluster == "" {
		in.Cluster = e.Cluster
	}
	out, err := e.O.CreateService(e.ctx, &in)
	if err != nil {
		e.t.Fatalf("stevedoretest: CreateService %s: %v", in.ServiceName, err)
	}
	return &out.Service
}

// UpdateService updates a service of the Env's cluster.
func (e *Env) UpdateService(in stevedore.UpdateServiceInput) *service.Service {
	e.t.Helper()
	if in.Cluster == "" {
		in.Cluster = e.Cluster
	}
	out, err := e.O.UpdateService(e.ctx, &in)
	if err != nil {
		e.t.Fatalf("stevedoretest: UpdateService %s: %v", in.Service, err)
	}
	return &out.Service
}

// Service describes a service of the Env's cluster.
func (e *Env) Service(name string) service.Service {
	e.t.Helper()
	out, err := e.O.DescribeServices(e.ctx, &stevedore.DescribeServicesInput{Cluster: e.Cluster, Services: []string{name}})
	if err != nil {
		e.t.Fatalf("stevedoretest: DescribeServices %s: %v", name, err)
	}
	if len(out.Services) != 1 {
		e.t.Fatalf("stevedoretest: DescribeServices %s: %d services, failures %v", name, len(out.Services), out.Failures)
	}
	return out.Services[0]
}

// Tasks describes the tasks of a service ("" for every task of the
// cluster) whose desired status is desired (task.Running or task.Stopped).
func (e *Env) Tasks(serviceName string, desired task.Status) []*task.Task {
	e.t.Helper()
	ids, err := e.O.AllTaskArns(e.ctx, &stevedore.ListTasksInput{Cluster: e.Cluster, ServiceName: serviceName, DesiredStatus: desired})
	if err != nil {
		e.t.Fatalf("stevedoretest: ListTasks: %v", err)
	}
	if len(ids) == 0 {
		return nil
	}
	var tasks []*task.Task
	for batch := range slices.Chunk(ids, stevedore.MaxDescribeTasks) {
		out, err := e.O.DescribeTasks(e.ctx, &stevedore.DescribeTasksInput{Cluster: e.Cluster, Tasks: batch})
		if err != nil {
			e.t.Fatalf("stevedoretest: DescribeTasks: %v", err)
		}
		tasks = append(tasks, out.Tasks...)
	}
	return tasks
}

// WaitFor waits until cond holds, looking again every 100 ms (of fake time
// inside a synctest bubble), and fails the test naming what after the
// Env's wait timeout.
func (e *Env) WaitFor(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(e.timeout)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("stevedoretest: %s: not within %v", what, e.timeout)
		}
		time.Sleep(pollEvery)
	}
}

// WaitSteady waits until the service is in a steady state: its desired
// count of tasks running on the primary deployment, nothing pending.
func (e *Env) WaitSteady(name string) service.Service {
	e.t.Helper()
	var svc service.Service
	e.WaitFor("service "+name+" steady", func() bool {
		svc = e.Service(name)
		return svc.Steady
	})
	return svc
}

// WaitRollout waits until the service's primary deployment's rollout
// state is state (after a rollback, the deployment that took over), and
// returns the service.
func (e *Env) WaitRollout(name string, state service.RolloutState) service.Service {
	e.t.Helper()
	var svc service.Service
	e.WaitFor(fmt.Sprintf("service %s rollout %s", name, state), func() bool {
		svc = e.Service(name)
		return len(svc.Deployments) > 0 && svc.Deployments[0].RolloutState == state
	})
	return svc
}

// Script scripts the containers of image on every instance, present and
// added later by AddInstance's caller (see fake.Behavior).
func (e *Env) Script(image string, b fake.Behavior) {
	for _, in := range e.Instances {
		in.Runtime.Script(image, b)
	}
}

// FailHealthChecks makes every container of image fail its container health
// checks from now on (each exec exits 1).
func (e *Env) FailHealthChecks(image string) {
	e.Script(image, fake.Behavior{RunFor: fake.Forever, Exec: fake.ExecCodes(1)})
}

// FailStarts makes every container of image fail to start.
func (e *Env) FailStarts(image string) {
	e.Script(image, fake.Behavior{StartError: errors.New("stevedoretest: scripted start failure")})
}

// CrashTask makes the main process of every running container of a task
// exit with code, as a crash would.
func (e *Env) CrashTask(taskID string, code int) {
	e.t.Helper()
	crashed := 0
	for _, in := range e.Instances {
		for _, c := range in.Runtime.Containers() {
			if c.Info.Labels[agent.LabelTask] != taskID {
				continue
			}
			if err := in.Runtime.Exit(c.Info.ID, code); err == nil {
				crashed++
			}
		}
	}
	if crashed == 0 {
		e.t.Fatalf("stevedoretest: CrashTask %s: no running container of the task", taskID)
	}
}

// DrainInstance sets instance i DRAINING: its service tasks move elsewhere.
func (e *Env) DrainInstance(i int) {
	e.t.Helper()
	if _, err := e.O.UpdateContainerInstancesState(e.ctx, &stevedore.UpdateContainerInstancesStateInput{Cluster: e.Cluster, Status: cluster.StatusDraining, ContainerInstances: []string{e.Instances[i].ID}}); err != nil {
		e.t.Fatalf("stevedoretest: drain %s: %v", e.Instances[i].ID, err)
	}
}

// CountByZone counts the tasks by the zone of their instance.
func (e *Env) CountByZone(tasks []*task.Task) map[string]int {
	zones := map[string]string{}
	for _, in := range e.Instances {
		zones[in.ID] = in.Zone
	}
	out := map[string]int{}
	for _, t := range tasks {
		out[zones[t.ContainerInstanceID()]]++
	}
	return out
}

// TasksOf is the tasks of a DescribeTasks call, for tests that treat a
// missing task as an error: a Failure is an error wrapping
// stevedore.ErrNotFound. Call it as TasksOf(o.DescribeTasks(ctx, in)).
func TasksOf(out *stevedore.DescribeTasksOutput, err error) ([]*task.Task, error) {
	if err != nil {
		return nil, err
	}
	return out.Tasks, failed(out.Failures)
}

// ServicesOf is TasksOf for DescribeServices.
func ServicesOf(out *stevedore.DescribeServicesOutput, err error) ([]service.Service, error) {
	if err != nil {
		return nil, err
	}
	return out.Services, failed(out.Failures)
}

// InstancesOf is TasksOf for DescribeContainerInstances.
func InstancesOf(out *stevedore.DescribeContainerInstancesOutput, err error) ([]cluster.ContainerInstance, error) {
	if err != nil {
		return nil, err
	}
	return out.ContainerInstances, failed(out.Failures)
}

func failed(fs []stevedore.Failure) error {
	if len(fs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %d objects, the first %s (%s)", stevedore.ErrNotFound, len(fs), fs[0].Arn, fs[0].Reason)
}
