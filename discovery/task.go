package discovery

import (
	"net/netip"
	"strings"

	"github.com/stevedore-io/stevedore/network"
	"github.com/stevedore-io/stevedore/task"
)

// ServiceGroupPrefix starts the task group of a service's tasks
// ("service:web"), as in ECS.
const ServiceGroupPrefix = "service:"

// Attribute keys FromTask sets on instances.
const (
	AttrCluster           = "cluster"
	AttrTaskDefinition    = "taskDefinition"
	AttrContainerInstance = "containerInstance"
	AttrNetworkMode       = "networkMode"
)

// TaskOptions tune FromTask.
type TaskOptions struct {
	// Service overrides the service name taken from the task's group
	// ("service:<name>").
	Service string
	// Namespace overrides the sub-namespace, by default the task's cluster
	// name when that is a valid label (otherwise none).
	Namespace string
	// HostAddr is the address of the container instance the task runs on.
	// In bridge mode with HostAddr set, the instance answers with HostAddr
	// and the published host port, as ECS does, so that other hosts can
	// reach it; without it, with the task's own address on the bridge and
	// the container port. Host mode needs it.
	HostAddr netip.Addr
	// ContainerPort picks the port mapping SRV records use; 0 means the
	// first TCP mapping (or the first mapping when none is TCP).
	ContainerPort uint16
}

// FromTask returns the discovery instance of a service task and whether it
// should be registered now. It is a pure function of the task's state, made
// to be called on every change of a task:
//
//	inst, ok := discovery.FromTask(t, att, opts)
//	switch {
//	case ok:
//		err = reg.Register(inst)
//	case inst.Service != "":
//		reg.Deregister(inst.Service, inst.ID)
//	}
//
// A task is registered while its last status is ACTIVATING or RUNNING and
// its desired status RUNNING, and is healthy when its health is HEALTHY or,
// for a task whose essential containers have no health check, as soon as it
// is registered. It is deregistered as soon as it is asked to stop, before
// DEACTIVATING, so that clients stop being sent to it while it drains.
//
// The address and port depend on the network mode of att: awsvpc answers
// the task's address and container port; bridge the host's address and the
// host port when opts.HostAddr is set, otherwise the task's bridge address
// and the container port; host mode opts.HostAddr and the host port. A
// task without attachment or address, in none mode, or that is not a
// service's task (inst.Service is then empty) is not registered.
func FromTask(t *task.Task, att *network.Attachment, opts TaskOptions) (Instance, bool) {
	if t == nil {
		return Instance{}, false
	}
	inst := Instance{ID: t.ID(), Service: opts.Service}
	if inst.Service == "" {
		inst.Service, _ = strings.CutPrefix(t.Group, ServiceGroupPrefix)
		if inst.Service == t.Group {
			inst.Service = ""
		}
	}
	if inst.Service == "" {
		return inst, false
	}
	inst.Namespace = opts.Namespace
	if inst.Namespace == "" && validLabel(t.ClusterName()) == nil {
		inst.Namespace = t.ClusterName()
	}
	if !(t.DesiredStatus == task.Running && (t.LastStatus == task.Activating || t.LastStatus == task.Running)) {
		return inst, false
	}
	if att == nil {
		return inst, false
	}
	binding, hasPort := pickBinding(att.PortBindings, opts.ContainerPort)
	switch att.Mode {
	case network.ModeAWSVPC:
		inst.Addr = att.Address.Addr()
		if hasPort {
			inst.Port = binding.ContainerPort
		}
	case network.ModeBridge:
		inst.Addr = att.Address.Addr()
		if hasPort {
			inst.Port = binding.ContainerPort
		}
		if opts.HostAddr.IsValid() {
			inst.Addr = opts.HostAddr
			inst.Port = 0
			if hasPort {
				inst.Port = binding.HostPort
			}
		}
	case network.ModeHost:
		inst.Addr = opts.HostAddr
		if hasPort {
			inst.Port = binding.HostPort
		}
	default:
		return inst, false
	}
	if !inst.Addr.IsValid() || inst.Addr.IsUnspecified() {
		return inst, false
	}
	inst.Healthy = taskHealthy(t)
	inst.Attributes = map[string]string{
		AttrCluster:           t.ClusterName(),
		AttrTaskDefinition:    t.TaskDefinitionRef(),
		AttrContainerInstance: t.ContainerInstanceID(),
		AttrNetworkMode:       string(att.Mode),
	}
	if _, err := normalize(inst); err != nil {
		// A service or task ID that cannot be a DNS label: such a task
		// cannot be named, so it is not registered.
		return inst, false
	}
	return inst, true
}

// taskHealthy: HEALTHY, or no health check on any essential container.
func taskHealthy(t *task.Task) bool {
	switch t.Health() {
	case task.Healthy:
		return true
	case task.Unhealthy:
		return false
	}
	for _, c := range t.Containers {
		if c.Essential && c.HasHealthCheck {
			return false
		}
	}
	return true
}

// pickBinding chooses the port binding SRV records use.
func pickBinding(bindings []network.PortBinding, containerPort uint16) (network.PortBinding, bool) {
	if containerPort != 0 {
		for _, b := range bindings {
			if b.ContainerPort == containerPort {
				return b, true
			}
		}
		return network.PortBinding{}, false
	}
	for _, b := range bindings {
		if b.Protocol == network.ProtocolTCP || b.Protocol == "" {
			return b, true
		}
	}
	if len(bindings) > 0 {
		return bindings[0], true
	}
	return network.PortBinding{}, false
}
