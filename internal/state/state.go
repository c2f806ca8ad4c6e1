// Package state defines the objects Stevedore keeps in its store: the pure
// model types of task, cluster and service wrapped with the store's
// bookkeeping and the few fields the control plane and the agents exchange
// that ECS does not show. Every component meets the others here
// (DESIGN.md, "Principles"): the API and the service controller write desired
// state, agents write what they observe.
//
// Field ownership keeps compare-and-swap conflicts rare and harmless: the
// control plane writes a task's desired status, stop code and reason, and
// its ingress policy (when a rule of one of its security groups changes,
// or the members of a group that a rule names);
// the launch writes what the agent needs from the control plane (DNS, the
// drainers of Drain); the agent of the task's instance writes everything it
// observes (last status, containers, health, network), the task samples and
// its instance's heartbeat (HeartbeatAt), which the reaper watches to take a
// silent agent for gone (AgentConnected false with AgentLost);
// the target-group loop writes TargetHealth and, with the discovery loop,
// the progress of a drain (Drain.Deadline, Drain.Done); InterruptSpotInstance
// writes an instance's ReclaimAt, which the reaper acts on; a process
// opening a data directory resets what held only while the process before
// it ran (restart.go). A writer that
// loses a race re-reads the object and reapplies its own change.
// ARCHITECTURE.md, at the repository's root, has the whole table.
package state

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/network"
	"github.com/stevedore-io/stevedore/service"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/task"
	"github.com/stevedore-io/stevedore/task/policy"
)

// Store kinds.
const (
	KindClusters        = "clusters"
	KindInstances       = "instances"
	KindTaskDefinitions = "taskdefinitions"
	KindTasks           = "tasks"
	KindServices        = "services"
	KindSecurityGroups  = "securitygroups"
)

// Cluster is a stored cluster, keyed by name.
type Cluster struct {
	store.Meta
	cluster.Cluster
	// Providers are the cluster's capacity providers in full.
	Providers []cluster.CapacityProvider `json:"capacityProviders,omitempty"`
	// TaskPolicy is the cluster's task policy; nil means the
	// Orchestrator's default (written by the API: CreateCluster,
	// PutClusterTaskPolicy).
	TaskPolicy *policy.Policy `json:"taskPolicy,omitempty"`
	CreatedAt  time.Time      `json:"createdAt"`
	// Tags are the cluster's tags (written by the API: CreateCluster,
	// TagResource, UntagResource).
	Tags []task.Tag `json:"tags,omitempty"`
}

// Kind implements store.Object.
func (*Cluster) Kind() string { return KindClusters }

// ObjectID implements store.Object.
func (c *Cluster) ObjectID() string { return c.Name }

// Copy returns a deep copy without store bookkeeping shared.
func (c *Cluster) Copy() *Cluster {
	out := *c
	out.Cluster = c.Cluster.Clone()
	out.Providers = slices.Clone(c.Providers)
	out.TaskPolicy = c.TaskPolicy.Clone()
	out.Tags = slices.Clone(c.Tags)
	return &out
}

// Instance is a stored container instance, keyed by instance ID.
type Instance struct {
	store.Meta
	cluster.ContainerInstance
	// ReclaimAt is when the capacity of an interrupted Spot instance goes
	// away (written by InterruptSpotInstance): the reaper then stops the
	// tasks still there and deregisters the instance. Zero otherwise.
	ReclaimAt time.Time `json:"reclaimAt,omitzero"`
	// HeartbeatAt is when the instance's agent last said it runs, and
	// HeartbeatInterval how often it says so (written by the agent, with
	// every write it makes to the instance). The reaper takes an agent
	// silent for HeartbeatMisses intervals for gone (AgentLost). Zero
	// for an agent that writes no heartbeat, which is never taken for gone.
	HeartbeatAt       time.Time     `json:"heartbeatAt,omitzero"`
	HeartbeatInterval time.Duration `json:"heartbeatInterval,omitzero"`
	// Tags are the instance's tags (written by the API: TagResource,
	// UntagResource).
	Tags []task.Tag `json:"tags,omitempty"`
}

// HeartbeatMisses is how many heartbeat intervals an agent may miss before
// the control plane takes it for gone.
const HeartbeatMisses = 3

// HeartbeatDeadline returns when the instance's agent is taken for gone if
// it writes no heartbeat before, counting from the later of its last
// heartbeat and since (when the caller first saw the agent connected: an
// instance registered again keeps the heartbeat of its previous agent
// until the new one writes). ok is false when no deadline applies: the
// instance is INACTIVE, its agent is not running as far as the store
// knows, or it writes no heartbeat.
func (i *Instance) HeartbeatDeadline(since time.Time) (deadline time.Time, ok bool) {
	if i.Status == cluster.StatusInactive || i.HeartbeatInterval <= 0 || !i.AgentRuns() {
		return time.Time{}, false
	}
	from := i.HeartbeatAt
	if since.After(from) {
		from = since
	}
	return from.Add(HeartbeatMisses * i.HeartbeatInterval), true
}

// AgentRuns reports whether the instance's agent runs as far as the store
// knows: it is connected, or it recorded an outage of its engine (it runs,
// cut off from the engine).
func (i *Instance) AgentRuns() bool {
	return i.AgentConnected || i.EngineOutage != nil
}

// Kind implements store.Object.
func (*Instance) Kind() string { return KindInstances }

// ObjectID implements store.Object.
func (i *Instance) ObjectID() string { return i.ID }

// Copy returns a deep copy.
func (i *Instance) Copy() *Instance {
	out := *i
	out.ContainerInstance = i.ContainerInstance.Clone()
	out.Tags = slices.Clone(i.Tags)
	return &out
}

// TaskDefinition is a stored task definition revision, keyed by family:N.
type TaskDefinition struct {
	store.Meta
	*task.TaskDefinition
}

// Kind implements store.Object.
func (*TaskDefinition) Kind() string { return KindTaskDefinitions }

// ObjectID implements store.Object.
func (d *TaskDefinition) ObjectID() string { return d.Ref() }

// Copy returns a deep copy.
func (d *TaskDefinition) Copy() *TaskDefinition {
	return &TaskDefinition{Meta: d.Meta, TaskDefinition: d.TaskDefinition.Clone()}
}

// Task is a stored task, keyed by task ID.
type Task struct {
	store.Meta
	*task.Task
	// ServiceName is set for tasks of a service.
	ServiceName string `json:"serviceName,omitempty"`
	// DeploymentID is the service deployment that started the task.
	DeploymentID string `json:"deploymentId,omitempty"`
	// Reserved is what the task took on its instance; the agent gives it
	// back when the task reaches STOPPED.
	Reserved cluster.Resources `json:"reserved"`
	// Released is true once Reserved went back to the instance.
	Released bool `json:"released,omitempty"`
	// Network is the task's network attachment, reported by the agent.
	Network *network.Attachment `json:"network,omitempty"`
	// HealthChecked is true when an essential container has a health check.
	HealthChecked bool `json:"healthChecked,omitempty"`
	// StoppedForHealth is true when the task was stopped for failing health
	// checks (the circuit breaker's second stage counts it).
	StoppedForHealth bool `json:"stoppedForHealth,omitempty"`
	// TargetHealth is the worst health of the task in the target groups of
	// its service: healthy only when healthy in every one. One byte, in
	// the padding after the flags above.
	TargetHealth TargetHealth `json:"targetHealth,omitempty"`
	// Ingress is the task's security-group policy, inbound and outbound
	// (Ingress.Egress): the union of the rules of its groups
	// (task.Task.SecurityGroups), rules that name groups resolved to the
	// addresses of their members, and its DNS server allowed when egress
	// is restricted (internal/sgsync). The launch writes it; the API again
	// when a rule of one of the groups changes, and the security-group
	// loop when the members of a group that a rule names do. The agent sets
	// up the task's network with it and applies changes in place. Nil for a
	// task in no group: its traffic is not filtered.
	Ingress *network.IngressPolicy `json:"ingress,omitempty"`
	// DNS is the resolv.conf the task gets when its definition names no
	// DNS server (the service discovery server's, when it is on), set
	// when the task is created. Nil: the host's.
	DNS *network.DNSConfig `json:"dns,omitempty"`
	// Drain is how the task leaves service before its containers get
	// SIGTERM (see Drain); nil when nothing drains it.
	Drain *Drain `json:"drain,omitempty"`
}

// TargetHealth is a task's health in the target groups of its service.
type TargetHealth uint8

// Target healths. The zero value is unknown: not registered yet, still in
// the first checks (initial) or draining.
const (
	TargetHealthUnknown TargetHealth = iota
	TargetHealthHealthy
	TargetHealthUnhealthy
)

// Status is h as a task health status.
func (h TargetHealth) Status() task.HealthStatus {
	switch h {
	case TargetHealthHealthy:
		return task.Healthy
	case TargetHealthUnhealthy:
		return task.Unhealthy
	default:
		return task.HealthUnknown
	}
}

// MarshalText implements encoding.TextMarshaler: HEALTHY, UNHEALTHY or
// UNKNOWN.
func (h TargetHealth) MarshalText() ([]byte, error) { return []byte(h.Status()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (h *TargetHealth) UnmarshalText(b []byte) error {
	switch task.HealthStatus(b) {
	case task.Healthy:
		*h = TargetHealthHealthy
	case task.Unhealthy:
		*h = TargetHealthUnhealthy
	default:
		*h = TargetHealthUnknown
	}
	return nil
}

// Kind implements store.Object.
func (*Task) Kind() string { return KindTasks }

// ObjectID implements store.Object.
func (t *Task) ObjectID() string { return t.ID() }

// Copy returns a deep copy.
func (t *Task) Copy() *Task {
	out := *t
	out.Task = t.Task.Clone()
	out.Reserved = t.Reserved.Clone()
	if t.Network != nil {
		out.Network = t.Network.Clone()
	}
	out.Ingress = t.Ingress.Clone()
	if t.DNS != nil {
		dns := *t.DNS
		out.DNS = &dns // its slices are shared: no one changes them in place
	}
	if t.Drain != nil {
		out.Drain = t.Drain.Copy()
	}
	return &out
}

// Service is a stored service, keyed by ServiceKey(cluster, name).
type Service struct {
	store.Meta
	service.Service
}

// Kind implements store.Object.
func (*Service) Kind() string { return KindServices }

// ObjectID implements store.Object.
func (s *Service) ObjectID() string { return ServiceKey(s.Cluster, s.Name) }

// Copy returns a deep copy.
func (s *Service) Copy() *Service {
	out := *s
	out.Service = s.Service.Clone()
	return &out
}

// SecurityGroup is a stored security group, keyed by its ID.
type SecurityGroup struct {
	store.Meta
	network.SecurityGroup
}

// Kind implements store.Object.
func (*SecurityGroup) Kind() string { return KindSecurityGroups }

// ObjectID implements store.Object.
func (g *SecurityGroup) ObjectID() string { return g.ID }

// Copy returns a deep copy.
func (g *SecurityGroup) Copy() *SecurityGroup {
	out := *g
	out.SecurityGroup = *g.SecurityGroup.Clone()
	return &out
}

// ServiceKey is the store ID of a service: services are named per cluster.
func ServiceKey(clusterName, name string) string { return clusterName + "/" + name }

// SplitServiceKey undoes ServiceKey.
func SplitServiceKey(key string) (clusterName, name string, err error) {
	c, n, ok := strings.Cut(key, "/")
	if !ok {
		return "", "", fmt.Errorf("state: malformed service key %q", key)
	}
	return c, n, nil
}
