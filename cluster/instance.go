package cluster

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/stevedore-io/stevedore/errdefs"
	"github.com/stevedore-io/stevedore/task/policy"
)

// InstanceStatus is the status of a container instance.
type InstanceStatus string

// Container instance statuses. Only ACTIVE instances receive new tasks.
const (
	// StatusRegistering is an instance whose registration is not complete.
	StatusRegistering InstanceStatus = "REGISTERING"
	// StatusActive is an instance that accepts tasks.
	StatusActive InstanceStatus = "ACTIVE"
	// StatusDraining is an instance being emptied: no new tasks are placed
	// on it and its service tasks are replaced elsewhere.
	StatusDraining InstanceStatus = "DRAINING"
	// StatusInactive is a deregistered instance.
	StatusInactive InstanceStatus = "INACTIVE"
)

// Valid reports whether s is one of the known statuses.
func (s InstanceStatus) Valid() bool {
	switch s {
	case StatusRegistering, StatusActive, StatusDraining, StatusInactive:
		return true
	}
	return false
}

// Attribute names that every container instance carries in ECS. Custom
// attributes use any other name.
const (
	AttributeAvailabilityZone = "ecs.availability-zone"
	AttributeInstanceType     = "ecs.instance-type"
	AttributeOSType           = "ecs.os-type"
	AttributeCPUArchitecture  = "ecs.cpu-architecture"
)

// ContainerInstance is a host registered in a cluster, as the orchestrator
// stores it: its capacity and what is left of it, its attributes, its
// status and its agent.
//
// ContainerInstance is a plain value with no locking: keep it in a store,
// copy it with Clone, change copies. Nothing in it reads the clock; times
// are given by the caller.
type ContainerInstance struct {
	// ID identifies the instance within its cluster (for example "i-0abc").
	ID string
	// Cluster is the name of the cluster the instance belongs to.
	Cluster string
	// Status is REGISTERING, ACTIVE, DRAINING or INACTIVE.
	Status InstanceStatus
	// StatusReason says why the status last changed, if anyone said.
	StatusReason string
	// AgentConnected reports whether the instance's agent is connected;
	// instances with a disconnected agent receive no tasks.
	AgentConnected bool
	// EngineOutage, when set, says that the instance's agent runs but
	// cannot reach its container engine (the daemon is down or
	// restarting), since when and why. AgentConnected is false meanwhile,
	// as ECS shows an instance whose Docker daemon is away, so that no task
	// is placed there; the containers go on running and their tasks keep
	// their last status. The agent clears both once the engine answers. A
	// Stevedore extension; nil otherwise.
	EngineOutage *EngineOutage `json:",omitempty"`
	// AgentLost, when set, says that the control plane took the
	// instance's agent for gone: it wrote no heartbeat for longer than its
	// heartbeat timeout (its process was killed, is paused, or cannot reach
	// the store). AgentConnected is false meanwhile, as ECS shows an agent
	// that stopped reporting, so that no task is placed there; the tasks
	// keep their last reported status. The agent clears both when it writes
	// again. A Stevedore extension; nil otherwise.
	AgentLost *AgentLost `json:",omitempty"`
	// AgentVersion is the version of the instance's agent.
	AgentVersion string
	// CapacityProvider is the name of the capacity provider the instance
	// belongs to; empty when it belongs to none.
	CapacityProvider string
	// RegisteredAt is when the instance registered.
	RegisteredAt time.Time
	// UpdatedAt is when the instance's status or agent connection last
	// changed, or it registered: the time of its state-change event
	// (Subscribe). Every writer of either dates it (DateChange); a change
	// of anything else (a heartbeat, its task counts, its reservations)
	// leaves it.
	UpdatedAt time.Time `json:",omitzero"`
	// Attributes are name/value pairs such as ecs.availability-zone, used
	// by placement constraints and strategies.
	Attributes map[string]string
	// Registered is the instance's capacity. Registered.Ports are ports
	// reserved at registration, never given to tasks.
	Registered Resources
	// Remaining is what is left of Registered. As in ECS, Remaining.Ports
	// lists every host port in use, the reserved ones included.
	Remaining Resources
	// RunningTasksCount and PendingTasksCount count the tasks on the
	// instance whose last status is RUNNING and PENDING. They are kept by
	// the orchestrator as tasks progress; placement does not read them.
	RunningTasksCount int
	PendingTasksCount int
	// TaskPolicy, when set, is the instance's own task policy: placement
	// keeps tasks whose definition it refuses off the instance, and the
	// instance's agent refuses to run them (see package task/policy). The
	// cluster's policy applies too.
	TaskPolicy *policy.Policy `json:",omitempty"`
	// TaskGroups counts, per task group ("service:web", "family:batch"),
	// the tasks on the instance whose desired status is RUNNING. AddTask
	// and RemoveTask keep it; placement reads it for distinctInstance,
	// spread and the task:group query subject.
	TaskGroups map[string]int
}

// StateChanged reports whether ci's status or agent connection differ from
// prev's (prev nil: ci is new): the changes an instance state-change event
// reports.
func (ci *ContainerInstance) StateChanged(prev *ContainerInstance) bool {
	return prev == nil || ci.Status != prev.Status || ci.AgentConnected != prev.AgentConnected
}

// DateChange sets UpdatedAt to now when ci's state changed from prev's
// (StateChanged); every writer of an instance calls it before it writes.
func (ci *ContainerInstance) DateChange(prev *ContainerInstance, now time.Time) {
	if ci.StateChanged(prev) {
		ci.UpdatedAt = now
	}
}

// EngineOutage is an outage of an instance's container engine, as its
// agent records it.
type EngineOutage struct {
	// Since is when the agent first failed to reach the engine.
	Since time.Time
	// Reason is the error of that call.
	Reason string
}

// AgentLost is the control plane's record of an agent that went silent.
type AgentLost struct {
	// LastHeartbeat is when the agent last wrote its heartbeat.
	LastHeartbeat time.Time
	// Reason says why the agent was taken for gone.
	Reason string
}

// NewContainerInstance returns an ACTIVE instance with a connected agent
// whose remaining resources are all of registered.
func NewContainerInstance(id string, registered Resources, registeredAt time.Time) (ContainerInstance, error) {
	ci := ContainerInstance{
		ID:             id,
		Status:         StatusActive,
		AgentConnected: true,
		RegisteredAt:   registeredAt,
		UpdatedAt:      registeredAt,
		Attributes:     map[string]string{},
		Registered:     registered.Clone(),
		Remaining:      registered.Clone(),
		TaskGroups:     map[string]int{},
	}
	if err := ci.Validate(); err != nil {
		return ContainerInstance{}, err
	}
	return ci, nil
}

// Clone returns a deep copy of ci: changing one never changes the other.
func (ci *ContainerInstance) Clone() ContainerInstance {
	c := *ci
	c.Attributes = maps.Clone(ci.Attributes)
	c.TaskGroups = maps.Clone(ci.TaskGroups)
	c.TaskPolicy = ci.TaskPolicy.Clone()
	if ci.EngineOutage != nil {
		o := *ci.EngineOutage
		c.EngineOutage = &o
	}
	if ci.AgentLost != nil {
		l := *ci.AgentLost
		c.AgentLost = &l
	}
	c.Registered = ci.Registered.Clone()
	c.Remaining = ci.Remaining.Clone()
	return c
}

// Attribute returns the value of the named attribute and whether the
// instance has it.
func (ci *ContainerInstance) Attribute(name string) (string, bool) {
	v, ok := ci.Attributes[name]
	return v, ok
}

// SetAttribute sets the named attribute.
func (ci *ContainerInstance) SetAttribute(name, value string) {
	if ci.Attributes == nil {
		ci.Attributes = map[string]string{}
	}
	ci.Attributes[name] = value
}

// PortInUse reports whether host port p is in use on the instance.
func (ci *ContainerInstance) PortInUse(p Port) bool {
	return slices.Contains(ci.Remaining.Ports, p)
}

// DesiredRunningTasks returns the number of tasks on the instance whose
// desired status is RUNNING: the sum of TaskGroups.
func (ci *ContainerInstance) DesiredRunningTasks() int {
	n := 0
	for _, c := range ci.TaskGroups {
		n += c
	}
	return n
}

// Validate checks the instance: an ID, a known status, attribute names and
// values as ECS accepts them, resources that are not negative, remaining
// resources within registered ones, reserved ports in use, and positive
// task-group counts.
func (ci *ContainerInstance) Validate() error {
	if err := ValidateInstanceID(ci.ID); err != nil {
		return err
	}
	if !ci.Status.Valid() {
		return invalidValue("status", quote(string(ci.Status)), "is not REGISTERING, ACTIVE, DRAINING or INACTIVE")
	}
	for _, name := range slices.Sorted(maps.Keys(ci.Attributes)) {
		if err := validateAttribute(name, ci.Attributes[name]); err != nil {
			return err
		}
	}
	if err := ci.Registered.Validate(); err != nil {
		return prefixed("registeredResources", err)
	}
	if err := ci.Remaining.Validate(); err != nil {
		return prefixed("remainingResources", err)
	}
	over := func(field string, remaining, registered int) error {
		return invalidValue("remainingResources."+field, remaining, fmt.Sprintf("exceeds the %d registered", registered))
	}
	switch {
	case ci.Remaining.CPU > ci.Registered.CPU:
		return over("cpu", ci.Remaining.CPU, ci.Registered.CPU)
	case ci.Remaining.Memory > ci.Registered.Memory:
		return over("memory", ci.Remaining.Memory, ci.Registered.Memory)
	case ci.Remaining.NetworkSlots > ci.Registered.NetworkSlots:
		return over("networkSlots", ci.Remaining.NetworkSlots, ci.Registered.NetworkSlots)
	}
	for i, p := range ci.Registered.Ports {
		if !ci.PortInUse(p) {
			return invalidValue(fmt.Sprintf("registeredResources.ports[%d]", i), p, "is reserved but missing from remainingResources.ports")
		}
	}
	for _, g := range slices.Sorted(maps.Keys(ci.TaskGroups)) {
		if g == "" {
			return invalidValue("taskGroups", `""`, "is not a task group name")
		}
		if n := ci.TaskGroups[g]; n <= 0 {
			return invalidValue("taskGroups["+quote(g)+"]", n, "must be positive")
		}
	}
	return nil
}

// MaxInstanceIDLength is the longest container instance ID accepted, in
// bytes: as long as ECS's names, and far above EC2's "i-" and 17 hex digits.
const MaxInstanceIDLength = 255

// ValidateInstanceID checks a container instance ID: 1-MaxInstanceIDLength
// visible ASCII characters (no space or control character), no slash or
// backslash, and not "." or "..". An ID names the instance in the store, in
// labels on its containers and in the path of its agent's state directory,
// so it must be one printable path element. Errors are *errdefs.FieldError with
// Field "id".
func ValidateInstanceID(id string) error {
	if id == "" || len(id) > MaxInstanceIDLength {
		return invalidValue("id", quote(id), fmt.Sprintf("must be 1-%d characters long", MaxInstanceIDLength))
	}
	if id == "." || id == ".." {
		return invalidValue("id", quote(id), "is not a valid instance ID")
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c <= ' ' || c > '~' {
			return invalidValue("id", quote(id), "may contain only visible ASCII characters")
		}
		if c == '/' || c == '\\' {
			return invalidValue("id", quote(id), "must not contain a path separator ('/' or '\\')")
		}
	}
	return nil
}

// validateAttribute applies ECS's rules: a name of 1-128 letters, digits,
// '-', '_', '.', '/' or '\'; a value of at most 128 characters among those
// and '@', ':' and ' '.
func validateAttribute(name, value string) error {
	field := "attributes[" + quote(name) + "]"
	if name == "" || len(name) > 128 {
		return &errdefs.FieldError{Path: field, Reason: "name must be 1-128 characters long"}
	}
	for _, r := range name {
		if !attrNameRune(r) {
			return invalidValue(field, fmt.Sprintf("%q", r), "is not allowed in an attribute name")
		}
	}
	if len(value) > 128 {
		return &errdefs.FieldError{Path: field, Reason: "value must be at most 128 characters long"}
	}
	for _, r := range value {
		if !attrNameRune(r) && r != '@' && r != ':' && r != ' ' {
			return invalidValue(field, fmt.Sprintf("%q", r), "is not allowed in an attribute value")
		}
	}
	return nil
}

func attrNameRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
		r == '-' || r == '_' || r == '.' || r == '/' || r == '\\'
}

// Reserve takes r from the instance's remaining resources. Either all of r
// is taken or nothing is: when a resource is short, Reserve changes nothing
// and returns an *InsufficientResourcesError naming it (checked in the
// order CPU, MEMORY, ENI, PORTS). An invalid r (negative amounts, duplicate
// ports) is a *errdefs.FieldError.
//
// Reserve never lets the instance go over its capacity.
func (ci *ContainerInstance) Reserve(r Resources) error {
	if err := r.Validate(); err != nil {
		return prefixed("reserve", err)
	}
	short := func(name ResourceName, requested, available int) error {
		return &InsufficientResourcesError{Instance: ci.ID, Resource: name, Requested: requested, Available: available}
	}
	switch {
	case r.CPU > ci.Remaining.CPU:
		return short(ResourceCPU, r.CPU, ci.Remaining.CPU)
	case r.Memory > ci.Remaining.Memory:
		return short(ResourceMemory, r.Memory, ci.Remaining.Memory)
	case r.NetworkSlots > ci.Remaining.NetworkSlots:
		return short(ResourceNetworkSlots, r.NetworkSlots, ci.Remaining.NetworkSlots)
	}
	for _, p := range r.Ports {
		if ci.PortInUse(p) {
			return &InsufficientResourcesError{Instance: ci.ID, Resource: ResourcePorts, Port: p}
		}
	}
	ci.Remaining.CPU -= r.CPU
	ci.Remaining.Memory -= r.Memory
	ci.Remaining.NetworkSlots -= r.NetworkSlots
	ci.Remaining.Ports = append(ci.Remaining.Ports, r.Ports...)
	return nil
}

// Release gives r back to the instance's remaining resources, undoing a
// Reserve. It is atomic too: when r was not reserved (giving it back would
// leave more than registered, or a port is not in use or is reserved at
// registration), Release changes nothing and returns an error wrapping
// ErrNotReserved.
func (ci *ContainerInstance) Release(r Resources) error {
	if err := r.Validate(); err != nil {
		return prefixed("release", err)
	}
	over := func(name ResourceName, released, remaining, registered int) error {
		return fmt.Errorf("cluster: instance %s: releasing %d %s would leave %d, more than the %d registered: %w",
			ci.ID, released, name, remaining+released, registered, ErrNotReserved)
	}
	switch {
	case ci.Remaining.CPU+r.CPU > ci.Registered.CPU:
		return over(ResourceCPU, r.CPU, ci.Remaining.CPU, ci.Registered.CPU)
	case ci.Remaining.Memory+r.Memory > ci.Registered.Memory:
		return over(ResourceMemory, r.Memory, ci.Remaining.Memory, ci.Registered.Memory)
	case ci.Remaining.NetworkSlots+r.NetworkSlots > ci.Registered.NetworkSlots:
		return over(ResourceNetworkSlots, r.NetworkSlots, ci.Remaining.NetworkSlots, ci.Registered.NetworkSlots)
	}
	for _, p := range r.Ports {
		if !ci.PortInUse(p) || slices.Contains(ci.Registered.Ports, p) {
			return fmt.Errorf("cluster: instance %s: releasing port %s, which no task holds: %w", ci.ID, p, ErrNotReserved)
		}
	}
	ci.Remaining.CPU += r.CPU
	ci.Remaining.Memory += r.Memory
	ci.Remaining.NetworkSlots += r.NetworkSlots
	if len(r.Ports) > 0 {
		ci.Remaining.Ports = slices.DeleteFunc(ci.Remaining.Ports, func(p Port) bool {
			return slices.Contains(r.Ports, p)
		})
	}
	return nil
}

// AddTask records a task of the given group, desired RUNNING, on the
// instance: it reserves r and counts the task in TaskGroups. Like Reserve
// it does all or nothing.
func (ci *ContainerInstance) AddTask(group string, r Resources) error {
	if group == "" {
		return &errdefs.FieldError{Path: "group", Reason: "must not be empty"}
	}
	if err := ci.Reserve(r); err != nil {
		return err
	}
	if ci.TaskGroups == nil {
		ci.TaskGroups = map[string]int{}
	}
	ci.TaskGroups[group]++
	return nil
}

// RemoveTask undoes AddTask: it releases r and uncounts one task of the
// group. It does all or nothing; a group with no task on the instance is an
// error wrapping ErrNotReserved.
func (ci *ContainerInstance) RemoveTask(group string, r Resources) error {
	if ci.TaskGroups[group] <= 0 {
		return fmt.Errorf("cluster: instance %s: no task of group %s: %w", ci.ID, quote(group), ErrNotReserved)
	}
	if err := ci.Release(r); err != nil {
		return err
	}
	if ci.TaskGroups[group]--; ci.TaskGroups[group] == 0 {
		delete(ci.TaskGroups, group)
	}
	return nil
}
