package placement

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/stevedore-io/stevedore/errdefs"
)

// Sentinel errors; test with errors.Is.
var (
	// ErrInvalid means a request, a strategy, a constraint or an option is
	// malformed. The error is an *errdefs.FieldError naming the field. It
	// is errdefs.ErrInvalid.
	ErrInvalid = errdefs.ErrInvalid
	// ErrNoFit means some task could not be placed on any instance. The
	// error is a *NoFitError that says why, instance by instance.
	ErrNoFit = errors.New("placement: no instance fits")
	// ErrPlugin means a plug-in broke (returned a Status with CodeError or
	// a score out of bounds). The error is a *PluginError.
	ErrPlugin = errors.New("placement: plug-in failed")
)

// invalidValue returns the *errdefs.FieldError of a value that breaks a
// rule: its reason reads like `"gpu" must be cpu or memory for binpack`.
func invalidValue(path string, value any, reason string) error {
	return &errdefs.FieldError{Path: path, Reason: fmt.Sprintf("%v %s", value, reason)}
}

// PluginError reports a plug-in that broke while placing a task.
type PluginError struct {
	// Plugin is the plug-in's Name.
	Plugin string
	// Instance is the instance it was looking at, if any.
	Instance string
	// Err says what went wrong.
	Err error
}

// Error returns a message such as
// "placement: plug-in gpu-score on instance i-1: score 101 out of [0, 100]".
func (e *PluginError) Error() string {
	if e.Instance == "" {
		return fmt.Sprintf("placement: plug-in %s: %v", e.Plugin, e.Err)
	}
	return fmt.Sprintf("placement: plug-in %s on instance %s: %v", e.Plugin, e.Instance, e.Err)
}

// Unwrap returns ErrPlugin and the plug-in's error.
func (e *PluginError) Unwrap() []error { return []error{ErrPlugin, e.Err} }

// Reason is why an instance cannot take a task, in ECS's terms. Custom
// filters add reasons of their own (their Status's Reason).
type Reason string

// Reasons reported by the built-in filters, checked in this order; an
// instance is counted under the first one that applies.
const (
	// ReasonRegistering, ReasonDraining and ReasonInactive: only ACTIVE
	// instances take tasks.
	ReasonRegistering Reason = "REGISTERING"
	ReasonDraining    Reason = "DRAINING"
	ReasonInactive    Reason = "INACTIVE"
	// ReasonAgent: the instance's agent is disconnected.
	ReasonAgent Reason = "AGENT"
	// ReasonCapacityProvider: the instance belongs to another capacity
	// provider than the one the task is placed on.
	ReasonCapacityProvider Reason = "CapacityProvider"
	// ReasonTaskPolicy: the instance's task policy refuses the task
	// definition (see Request.Refused).
	ReasonTaskPolicy Reason = "TaskPolicy"
	// ReasonCPU, ReasonMemory, ReasonENI and ReasonPorts: the instance has
	// too few cpu units, too little memory, no free task-network slot, or a
	// host port the task needs is taken (or no dynamic port is left).
	ReasonCPU    Reason = "RESOURCE:CPU"
	ReasonMemory Reason = "RESOURCE:MEMORY"
	ReasonENI    Reason = "RESOURCE:ENI"
	ReasonPorts  Reason = "RESOURCE:PORTS"
	// ReasonDistinctInstance: a task of the same group, desired RUNNING, is
	// already on the instance.
	ReasonDistinctInstance Reason = "DistinctInstance"
	// ReasonMemberOf: the instance does not satisfy a memberOf expression.
	ReasonMemberOf Reason = "MemberOf"
)

// AttributeReason is the reason an instance lacks an attribute the task
// requires (Request.Attributes), such as "ATTRIBUTE:ecs.cpu-architecture",
// after ECS's ATTRIBUTE failure. It is checked after the task policy.
func AttributeReason(name string) Reason { return Reason(reasonAttribute + name) }

// reasonAttribute begins every AttributeReason.
const reasonAttribute = "ATTRIBUTE:"

// ReasonCount is how many instances were turned down for one reason.
type ReasonCount struct {
	Reason    Reason
	Instances int
}

// Explanation says why the instances of a round can or cannot take a task:
// every instance that cannot is counted under the first reason that applies
// to it.
type Explanation struct {
	// Task names the task, as in Request.Task.
	Task string
	// Instances is the number of instances in the round.
	Instances int
	// Fit is the number of instances that can take the task.
	Fit int
	// Reasons counts the others per reason, most frequent first (ties in
	// alphabetical order).
	Reasons []ReasonCount
	// Closest is, when no instance fits, the instance that comes closest:
	// the one that failed the fewest checks (ties go to the lowest
	// instance ID), with every check it failed. It is what ECS names in
	// its event ("The closest matching container-instance ..."); see
	// ClosestMatch. Zero when some instance fits or there is none.
	Closest InstanceResult
}

// InstanceResult is how one instance fared against a task's checks.
type InstanceResult struct {
	// Instance is the instance's ID.
	Instance string
	// Failed are the checks it failed, in the order they are made
	// (status, agent, capacity provider, task policy, attributes, cpu,
	// memory, network slots,
	// ports, distinctInstance, memberOf, then the plug-in filters): the
	// first is the reason Reasons counts it under.
	Failed []Reason
}

// ClosestMatch says in ECS's words why no instance took the task, naming
// the closest instance and what it lacks, such as
// "The closest matching container-instance i-1 has insufficient memory
// available." (the first check it failed), or
// "Reason: No Container Instances were found in your cluster." for an
// empty round. It is "" when some instance fits.
func (e Explanation) ClosestMatch() string {
	if e.Instances == 0 {
		return "Reason: No Container Instances were found in your cluster."
	}
	if e.Closest.Instance == "" || len(e.Closest.Failed) == 0 {
		return ""
	}
	return "The closest matching container-instance " + e.Closest.Instance + " " + e.Closest.Failed[0].lacking() + "."
}

// lacking is what an instance turned down for r lacks, in ECS's words
// where ECS has some ("has insufficient memory available"), otherwise as
// ECS words the rest (`encountered error "DRAINING"`).
func (r Reason) lacking() string {
	switch r {
	case ReasonCPU:
		return "has insufficient CPU units available"
	case ReasonMemory:
		return "has insufficient memory available"
	case ReasonPorts:
		return "is already using a port required by your task"
	case ReasonMemberOf:
		return "is missing an attribute required by your task"
	}
	if strings.HasPrefix(string(r), reasonAttribute) {
		return "is missing an attribute required by your task (" + strings.TrimPrefix(string(r), reasonAttribute) + ")"
	}
	return `encountered error "` + string(r) + `"`
}

// String returns the reasons such as
// "3 instances: RESOURCE:MEMORY; 1 instance: DRAINING", followed by
// "; 2 instances fit" when some do, or "no container instances" for an
// empty round.
func (e Explanation) String() string {
	if e.Instances == 0 {
		return "no container instances"
	}
	var b strings.Builder
	for i, rc := range e.Reasons {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(plural(rc.Instances, "instance"))
		b.WriteString(": ")
		b.WriteString(string(rc.Reason))
	}
	if e.Fit > 0 {
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		b.WriteString(plural(e.Fit, "instance"))
		if e.Fit == 1 {
			b.WriteString(" fits")
		} else {
			b.WriteString(" fit")
		}
	}
	return b.String()
}

func plural(n int, noun string) string {
	s := strconv.Itoa(n) + " " + noun
	if n != 1 {
		s += "s"
	}
	return s
}

// NoFitError reports that a task of a batch found no instance. The tasks
// placed before it stay placed (their decisions are returned with the
// error).
type NoFitError struct {
	// Explanation says why no instance fits, as the round stood when the
	// task was tried.
	Explanation
	// Requested is how many tasks the batch asked for; Placed how many of
	// them were placed.
	Requested, Placed int
	// CapacityProvider is the provider the task was to run on, if any.
	CapacityProvider string
	// Seed is the round's random seed. Random marks whether a random
	// strategy took part; only then does the seed matter, and only then is
	// it in the message.
	Seed   uint64
	Random bool
}

// Error returns a message such as
// "placement: no instance fits task web:3: 3 instances: RESOURCE:MEMORY; 1 instance: DRAINING (placed 2 of 5)".
func (e *NoFitError) Error() string {
	var b strings.Builder
	b.WriteString("placement: no instance fits task ")
	b.WriteString(e.Task)
	if e.CapacityProvider != "" {
		b.WriteString(" on capacity provider ")
		b.WriteString(e.CapacityProvider)
	}
	b.WriteString(": ")
	b.WriteString(e.Explanation.String())
	var notes []string
	if e.Requested > 1 {
		notes = append(notes, fmt.Sprintf("placed %d of %d", e.Placed, e.Requested))
	}
	if e.Random {
		notes = append(notes, fmt.Sprintf("random seed %d", e.Seed))
	}
	if len(notes) > 0 {
		b.WriteString(" (")
		b.WriteString(strings.Join(notes, ", "))
		b.WriteString(")")
	}
	return b.String()
}

// Is makes errors.Is(err, ErrNoFit) true.
func (e *NoFitError) Is(target error) bool { return target == ErrNoFit }
