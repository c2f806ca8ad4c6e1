package task

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Status is a task's lastStatus or desiredStatus. A task's lastStatus
// moves forward through
//
//	PROVISIONING -> PENDING -> ACTIVATING -> RUNNING -> DEACTIVATING -> STOPPING -> DEPROVISIONING -> STOPPED
//
// and its desiredStatus is RUNNING or STOPPED.
type Status string

// Task statuses, in lifecycle order.
const (
	// Provisioning: the task's network is being set up.
	Provisioning Status = "PROVISIONING"
	// Pending: images are pulled and containers created and started.
	Pending Status = "PENDING"
	// Activating: load balancer and service discovery registration.
	Activating Status = "ACTIVATING"
	// Running: the task runs.
	Running Status = "RUNNING"
	// Deactivating: load balancer and service discovery deregistration.
	Deactivating Status = "DEACTIVATING"
	// Stopping: containers get SIGTERM, then SIGKILL after stopTimeout.
	Stopping Status = "STOPPING"
	// Deprovisioning: the task's network is torn down.
	Deprovisioning Status = "DEPROVISIONING"
	// Stopped: nothing of the task is left but its record.
	Stopped Status = "STOPPED"
)

// taskTransitions lists the statuses each lastStatus may move to. Moves
// go forward only. Steps may be skipped, as ECS does (a task without load
// balancers skips ACTIVATING and DEACTIVATING, one that fails to start
// goes straight to STOPPED), except that a task becomes ACTIVATING or
// RUNNING only after PENDING, and DEACTIVATING only after it began
// activating: nothing can be deregistered that was never registered.
var taskTransitions = map[Status][]Status{
	Provisioning:   {Pending, Stopping, Deprovisioning, Stopped},
	Pending:        {Activating, Running, Stopping, Deprovisioning, Stopped},
	Activating:     {Running, Deactivating, Stopping, Deprovisioning, Stopped},
	Running:        {Deactivating, Stopping, Deprovisioning, Stopped},
	Deactivating:   {Stopping, Deprovisioning, Stopped},
	Stopping:       {Deprovisioning, Stopped},
	Deprovisioning: {Stopped},
	Stopped:        nil,
}

// ContainerStatus is a container's lastStatus: PENDING, RUNNING, STOPPED.
type ContainerStatus string

// Container statuses, in lifecycle order.
const (
	ContainerPending ContainerStatus = "PENDING"
	ContainerRunning ContainerStatus = "RUNNING"
	ContainerStopped ContainerStatus = "STOPPED"
)

// HealthStatus is the health of a container or a task.
type HealthStatus string

// Health statuses. For a task, UNHEALTHY is worse than UNKNOWN, which is
// worse than HEALTHY.
const (
	Healthy       HealthStatus = "HEALTHY"
	Unhealthy     HealthStatus = "UNHEALTHY"
	HealthUnknown HealthStatus = "UNKNOWN"
)

// StopCode says why a task stopped.
type StopCode string

// Stop codes, as in ECS.
const (
	TaskFailedToStart         StopCode = "TaskFailedToStart"
	EssentialContainerExited  StopCode = "EssentialContainerExited"
	UserInitiated             StopCode = "UserInitiated"
	ServiceSchedulerInitiated StopCode = "ServiceSchedulerInitiated"
	SpotInterruption          StopCode = "SpotInterruption"
	TerminationNotice         StopCode = "TerminationNotice"
)

// ReasonEssentialContainerExited is the stoppedReason of a task stopped
// because an essential container exited, worded as by ECS.
const ReasonEssentialContainerExited = "Essential container in task exited"

var (
	// ErrIllegalTransition is matched (errors.Is) by a *TransitionError.
	ErrIllegalTransition = errors.New("illegal status transition")
	// ErrUnknownContainer is matched by the errors of Task methods given
	// a container name the task does not have.
	ErrUnknownContainer = errors.New("unknown container")
)

// TransitionError is a status change the lifecycle does not allow.
type TransitionError struct {
	// Object is "task <id>" or "container <name> of task <id>".
	Object   string
	From, To string
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("%s: %v %s -> %s", e.Object, ErrIllegalTransition, e.From, e.To)
}

// Is reports whether target is ErrIllegalTransition.
func (e *TransitionError) Is(target error) bool { return target == ErrIllegalTransition }

// Task is a running (or stopped) instance of a task definition, with ECS's
// field names in JSON. The methods that change a task increment Version,
// as ECS does, and take the current time as an argument: the model never
// reads the clock.
//
// The ARN fields hold ECS-style ARNs or plain identifiers; ID,
// ClusterName, ContainerInstanceID and TaskDefinitionRef return their
// last path segment either way.
type Task struct {
	TaskARN              string `json:"taskArn"`
	ClusterARN           string `json:"clusterArn,omitempty"`
	ContainerInstanceARN string `json:"containerInstanceArn,omitempty"`
	TaskDefinitionARN    string `json:"taskDefinitionArn"`
	Group                string `json:"group,omitempty"`
	StartedBy            string `json:"startedBy,omitempty"`
	LaunchType           string `json:"launchType,omitempty"`
	CapacityProviderName string `json:"capacityProviderName,omitempty"`
	// Version counts the changes made through the methods.
	Version       int64         `json:"version"`
	LastStatus    Status        `json:"lastStatus"`
	DesiredStatus Status        `json:"desiredStatus"`
	HealthStatus  HealthStatus  `json:"healthStatus,omitempty"`
	StopCode      StopCode      `json:"stopCode,omitempty"`
	StoppedReason string        `json:"stoppedReason,omitempty"`
	CPU           CPU           `json:"cpu,omitempty"`    // cpu units reserved
	Memory        Memory        `json:"memory,omitempty"` // MiB reserved
	Containers    []Container   `json:"containers"`
	Overrides     *TaskOverride `json:"overrides,omitempty"`
	Tags          []Tag         `json:"tags,omitempty"`
	// Attachments describe the task's network interface in awsvpc mode,
	// as ECS reports its elastic network interface: details
	// privateIPv4Address, subnetPrefixLength, gateway, macAddress.
	Attachments []Attachment `json:"attachments,omitempty"`
	// SecurityGroups are the IDs of the security groups the task is in
	// (its networkConfiguration's); its network accepts only the inbound
	// connections their rules allow. Not an ECS Task field: ECS shows them
	// on the task's network interface.
	SecurityGroups []string `json:"securityGroups,omitempty"`

	CreatedAt     time.Time `json:"createdAt,omitzero"`
	PullStartedAt time.Time `json:"pullStartedAt,omitzero"`
	PullStoppedAt time.Time `json:"pullStoppedAt,omitzero"`
	// ConnectivityAt is when the task's network became ready (it left
	// PROVISIONING).
	ConnectivityAt time.Time `json:"connectivityAt,omitzero"`
	StartedAt      time.Time `json:"startedAt,omitzero"`
	// StoppingAt is when stopping began: Stop was called, or lastStatus
	// reached DEACTIVATING or STOPPING, whichever came first.
	StoppingAt time.Time `json:"stoppingAt,omitzero"`
	// ExecutionStoppedAt is when the containers were all gone
	// (DEPROVISIONING or STOPPED).
	ExecutionStoppedAt time.Time `json:"executionStoppedAt,omitzero"`
	StoppedAt          time.Time `json:"stoppedAt,omitzero"`
	// UpdatedAt is when the task last changed through a method that
	// takes the time: its lastStatus, desiredStatus, health, image pulls
	// or a container's exit. It is the time of the change a task state
	// change event reports (ECS's events carry it as updatedAt).
	UpdatedAt time.Time `json:"updatedAt,omitzero"`
}

// Container is the runtime state of one container of a task.
type Container struct {
	Name        string          `json:"name"`
	Image       string          `json:"image,omitempty"`
	ImageDigest string          `json:"imageDigest,omitempty"`
	RuntimeID   string          `json:"runtimeId,omitempty"`
	LastStatus  ContainerStatus `json:"lastStatus"`
	// ExitCode is set once the container has exited.
	ExitCode     *int         `json:"exitCode,omitempty"`
	Reason       string       `json:"reason,omitempty"`
	HealthStatus HealthStatus `json:"healthStatus,omitempty"`
	// Essential and HasHealthCheck are copied from the container
	// definition (they are not ECS fields): they decide task health and
	// whether the container's exit stops the task.
	Essential       bool             `json:"essential"`
	HasHealthCheck  bool             `json:"hasHealthCheck,omitempty"`
	NetworkBindings []NetworkBinding `json:"networkBindings,omitempty"`
}

// Attachment is a resource attached to a task, as ECS's task attachments:
// Stevedore reports the task's network interface (Type
// "ElasticNetworkInterface").
type Attachment struct {
	ID      string         `json:"id"`
	Type    string         `json:"type"`
	Status  string         `json:"status"`
	Details []KeyValuePair `json:"details,omitempty"`
}

// Detail returns the value of the named detail, or "".
func (a *Attachment) Detail(name string) string {
	for _, d := range a.Details {
		if d.Name == name {
			return d.Value
		}
	}
	return ""
}

// PrivateIPv4Address returns the task's address in awsvpc or bridge mode
// (from its network attachment), or "".
func (t *Task) PrivateIPv4Address() string {
	for i := range t.Attachments {
		if v := t.Attachments[i].Detail("privateIPv4Address"); v != "" {
			return v
		}
	}
	return ""
}

// NetworkBinding is a published port of a running container.
type NetworkBinding struct {
	BindIP        string   `json:"bindIP,omitempty"`
	ContainerPort int      `json:"containerPort"`
	HostPort      int      `json:"hostPort"`
	Protocol      Protocol `json:"protocol,omitempty"`
}

// NewTask returns a task of td, with overrides (may be nil) applied: in
// PROVISIONING, desired RUNNING, health UNKNOWN, Version 1, one PENDING
// container per container definition and the reserved cpu and memory
// from Requirements. An override naming no container of td is an error
// matching ErrUnknownContainer.
func NewTask(taskARN string, td *TaskDefinition, overrides *TaskOverride, now time.Time) (*Task, error) {
	effective, err := overrides.Apply(td)
	if err != nil {
		return nil, fmt.Errorf("new task of %s: %w", td.Ref(), err)
	}
	cpu, mem := effective.Requirements()
	t := &Task{
		TaskARN:           taskARN,
		TaskDefinitionARN: td.TaskDefinitionARN,
		Version:           1,
		LastStatus:        Provisioning,
		DesiredStatus:     Running,
		CPU:               CPU(strconv.Itoa(cpu)),
		Memory:            Memory(strconv.Itoa(mem)),
		Overrides:         deepCopy(overrides),
		CreatedAt:         now,
		UpdatedAt:         now,
	}
	if t.TaskDefinitionARN == "" {
		t.TaskDefinitionARN = td.Ref()
	}
	for _, c := range effective.ContainerDefinitions {
		t.Containers = append(t.Containers, Container{
			Name:           c.Name,
			Image:          c.Image,
			LastStatus:     ContainerPending,
			HealthStatus:   HealthUnknown,
			Essential:      c.IsEssential(),
			HasHealthCheck: c.HealthCheck != nil,
		})
	}
	t.HealthStatus = t.Health()
	return t, nil
}

// ID returns the task's identifier: the last path segment of TaskARN.
func (t *Task) ID() string { return lastSegment(t.TaskARN) }

// ClusterName returns the last path segment of ClusterARN.
func (t *Task) ClusterName() string { return lastSegment(t.ClusterARN) }

// ContainerInstanceID returns the last path segment of
// ContainerInstanceARN.
func (t *Task) ContainerInstanceID() string { return lastSegment(t.ContainerInstanceARN) }

// TaskDefinitionRef returns "family:revision" from TaskDefinitionARN.
func (t *Task) TaskDefinitionRef() string { return lastSegment(t.TaskDefinitionARN) }

func lastSegment(s string) string { return s[strings.LastIndexByte(s, '/')+1:] }

// Clone returns a deep copy of t.
func (t *Task) Clone() *Task { return deepCopy(t) }

// Container returns the container with the given name, or nil.
func (t *Task) Container(name string) *Container {
	for i := range t.Containers {
		if t.Containers[i].Name == name {
			return &t.Containers[i]
		}
	}
	return nil
}

// SetLastStatus moves the task's lastStatus to s and records the time in
// the timestamp that belongs to it (startedAt for RUNNING, stoppedAt for
// STOPPED, ...). Moves go forward only; which steps may be skipped is
// described at Status. Setting the current status again does nothing. An
// illegal move returns a *TransitionError and changes nothing. Reaching
// STOPPED also sets desiredStatus STOPPED.
func (t *Task) SetLastStatus(s Status, now time.Time) error {
	if s == t.LastStatus {
		return nil
	}
	next, known := taskTransitions[t.LastStatus]
	if t.LastStatus == "" {
		_, ok := taskTransitions[s] // a task built by hand may start anywhere
		next, known = []Status{s}, ok
	}
	if !known || !slices.Contains(next, s) {
		return &TransitionError{Object: "task " + t.ID(), From: string(t.LastStatus), To: string(s)}
	}
	if t.LastStatus == Provisioning {
		setOnce(&t.ConnectivityAt, now)
	}
	t.LastStatus = s
	switch s {
	case Running:
		setOnce(&t.StartedAt, now)
	case Deactivating, Stopping:
		setOnce(&t.StoppingAt, now)
	case Deprovisioning:
		setOnce(&t.ExecutionStoppedAt, now)
	case Stopped:
		setOnce(&t.ExecutionStoppedAt, now)
		t.StoppedAt = now
		t.DesiredStatus = Stopped
	}
	t.UpdatedAt = now
	t.Version++
	return nil
}

// Stop sets desiredStatus STOPPED with a stop code and reason, and
// records when stopping began. It is idempotent: a task already desired
// STOPPED keeps its first code and reason, and Stop reports false.
func (t *Task) Stop(code StopCode, reason string, now time.Time) bool {
	if t.DesiredStatus == Stopped {
		return false
	}
	t.DesiredStatus = Stopped
	t.StopCode = code
	t.StoppedReason = reason
	setOnce(&t.StoppingAt, now)
	t.UpdatedAt = now
	t.Version++
	return true
}

// MarkPullStarted records when image pulls began.
func (t *Task) MarkPullStarted(now time.Time) {
	t.PullStartedAt = now
	t.UpdatedAt = now
	t.Version++
}

// MarkPullStopped records when image pulls ended.
func (t *Task) MarkPullStopped(now time.Time) {
	t.PullStoppedAt = now
	t.UpdatedAt = now
	t.Version++
}

// SetContainerRunning moves a PENDING container to RUNNING. Doing it
// again does nothing; a STOPPED container cannot run again
// (*TransitionError).
func (t *Task) SetContainerRunning(name string) error {
	c, err := t.container(name)
	if err != nil {
		return err
	}
	switch c.LastStatus {
	case ContainerRunning:
		return nil
	case ContainerStopped:
		return &TransitionError{Object: fmt.Sprintf("container %s of task %s", name, t.ID()), From: string(c.LastStatus), To: string(ContainerRunning)}
	}
	c.LastStatus = ContainerRunning
	t.Version++
	return nil
}

// SetContainerStopped records that a container stopped, with its exit
// code (nil when it never ran or the code is unknown) and a reason. A
// container that had already stopped keeps its first exit code and
// reason. When an essential container stops, the task is stopped too,
// with stop code EssentialContainerExited (see Stop).
func (t *Task) SetContainerStopped(name string, exitCode *int, reason string, now time.Time) error {
	c, err := t.container(name)
	if err != nil {
		return err
	}
	if c.LastStatus == ContainerStopped {
		return nil
	}
	c.LastStatus = ContainerStopped
	if exitCode != nil {
		code := *exitCode
		c.ExitCode = &code
	}
	c.Reason = reason
	t.UpdatedAt = now
	t.Version++
	if c.Essential {
		t.Stop(EssentialContainerExited, ReasonEssentialContainerExited, now)
	}
	return nil
}

// SetContainerHealthAt records a container's health, found at now, and
// recomputes the task's (see Health); a change is dated now (UpdatedAt).
func (t *Task) SetContainerHealthAt(name string, h HealthStatus, now time.Time) error {
	changed, err := t.setContainerHealth(name, h)
	if changed {
		t.UpdatedAt = now
	}
	return err
}

// SetContainerHealth records a container's health and recomputes the
// task's (see Health), without dating the change.
//
// Deprecated: use SetContainerHealthAt, which records when the health
// changed: the time of the task's state change event.
func (t *Task) SetContainerHealth(name string, h HealthStatus) error {
	_, err := t.setContainerHealth(name, h)
	return err
}

func (t *Task) setContainerHealth(name string, h HealthStatus) (bool, error) {
	c, err := t.container(name)
	if err != nil {
		return false, err
	}
	if c.HealthStatus == h {
		return false, nil
	}
	c.HealthStatus = h
	t.HealthStatus = t.Health()
	t.Version++
	return true, nil
}

// Health computes the task's health from its containers: the worst
// health (UNHEALTHY, then UNKNOWN, then HEALTHY) of the essential
// containers that have a health check; UNKNOWN when there are none.
func (t *Task) Health() HealthStatus {
	health, checked := Healthy, false
	for _, c := range t.Containers {
		if !c.Essential || !c.HasHealthCheck {
			continue
		}
		checked = true
		switch c.HealthStatus {
		case Unhealthy:
			return Unhealthy
		case Healthy:
		default:
			health = HealthUnknown
		}
	}
	if !checked {
		return HealthUnknown
	}
	return health
}

func (t *Task) container(name string) (*Container, error) {
	if c := t.Container(name); c != nil {
		return c, nil
	}
	return nil, fmt.Errorf("task %s: container %s: %w", t.ID(), quote(name), ErrUnknownContainer)
}

func setOnce(ts *time.Time, now time.Time) {
	if ts.IsZero() {
		*ts = now
	}
}
