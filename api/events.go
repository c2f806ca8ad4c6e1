package api

import (
	"time"

	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/service"
	"github.com/stevedore-io/stevedore/task"
)

// EventType says what an Event is about.
type EventType string

// Event types, named after ECS's EventBridge detail types.
const (
	// EventTaskStateChange: a task was created or its lastStatus,
	// desiredStatus or health changed.
	EventTaskStateChange EventType = "ECS Task State Change"
	// EventServiceAction: a service event ("has reached a steady state").
	EventServiceAction EventType = "ECS Service Action"
	// EventDeploymentStateChange: a deployment started, completed or failed.
	EventDeploymentStateChange EventType = "ECS Deployment State Change"
	// EventInstanceStateChange: an instance registered, or its status or
	// agent connection changed.
	EventInstanceStateChange EventType = "ECS Container Instance State Change"
)

// Event is one thing that happened in the Orchestrator. Exactly one of Task,
// Deployment (with Service) or Instance is set, or Message for a service
// action.
type Event struct {
	Type     EventType
	Time     time.Time
	Cluster  string
	Revision int64
	// Task is a snapshot of the task after the change.
	Task *task.Task
	// Service names the service of a service action or deployment change.
	Service    string
	Message    string
	Deployment *service.Deployment
	Instance   *cluster.ContainerInstance
}
