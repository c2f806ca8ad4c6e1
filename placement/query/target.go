package query

import "time"

// Target is what an expression is evaluated against: one container instance as
// the placement engine sees it at the moment of a decision.
type Target interface {
	// InstanceID is the instance's identifier (the subject ec2InstanceId).
	InstanceID() string
	// Attribute returns the value of a named attribute such as
	// "ecs.instance-type"; ok is false when the instance lacks it.
	Attribute(name string) (value string, ok bool)
	// RegisteredAt is when the instance registered with the cluster.
	RegisteredAt() time.Time
	// RunningTasksCount is the number of tasks on the instance whose
	// desired status is RUNNING.
	RunningTasksCount() int
	// HasTaskGroup reports whether a task of the given group, desired
	// RUNNING, is on the instance. match decides whether a group qualifies;
	// it is safe for concurrent use, does not allocate, and need not be
	// kept after the call. Expressions call it for task:group conditions.
	HasTaskGroup(match func(group string) bool) bool
	// AgentConnected reports whether the instance's agent is connected.
	AgentConnected() bool
	// AgentVersion is the version of the instance's agent.
	AgentVersion() string
}
