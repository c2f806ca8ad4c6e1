package service

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/errdefs"
	"github.com/stevedore-io/stevedore/placement"
	"github.com/stevedore-io/stevedore/task"
)

// Status is the lifecycle status of a service.
type Status string

// Service statuses, as in ECS.
const (
	StatusActive   Status = "ACTIVE"
	StatusDraining Status = "DRAINING" // being deleted: scaling to zero
	StatusInactive Status = "INACTIVE"
)

// MaxDesiredCount is the largest desiredCount a service accepts. ECS's
// "tasks per service" quota is 5,000 by default and can be raised;
// Stevedore accepts up to 10,000, the largest maxCapacity its service auto
// scaling takes, so that every count auto scaling sets is one Validate
// accepts. The bound keeps the deployment arithmetic (desiredCount times
// maximumPercent) far from overflowing.
const MaxDesiredCount = 10000

// MaxLoadBalancers is how many target groups a service may register its
// tasks with (ECS's "target groups per service" quota).
const MaxLoadBalancers = 5

// MaxEvents is how many service events a service keeps (ECS shows the
// latest 100).
const MaxEvents = 100

// Event is a service event in ECS's wording.
type Event struct {
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"createdAt"`
	Message   string    `json:"message"`
}

// LoadBalancer ties a service's tasks to a target group.
type LoadBalancer struct {
	TargetGroup   string `json:"targetGroupArn"`
	ContainerName string `json:"containerName"`
	ContainerPort int    `json:"containerPort"`
	// AdvancedConfiguration names the second target group and the listener
	// rules that the BLUE_GREEN, LINEAR and CANARY strategies need; the
	// ROLLING strategy ignores it.
	AdvancedConfiguration *AdvancedConfiguration `json:"advancedConfiguration,omitempty"`
}

// AdvancedConfiguration is a load balancer's blue/green set-up, as in ECS:
// the deployment that is not serving production registers its tasks in the
// other target group, the test listener rule sends test traffic to it, and
// the production listener rule shifts production traffic between the two.
type AdvancedConfiguration struct {
	// AlternateTargetGroup is the second target group (same protocol and
	// port as TargetGroup).
	AlternateTargetGroup string `json:"alternateTargetGroupArn"`
	// ProductionListenerRule names the listener rule whose forward action
	// weighs the two target groups for production traffic.
	ProductionListenerRule string `json:"productionListenerRule"`
	// TestListenerRule names the listener rule for test traffic; optional.
	TestListenerRule string `json:"testListenerRule,omitempty"`
}

// Service is a long-running set of tasks kept at a desired count: its
// desired configuration, its deployments and its events.
type Service struct {
	Name    string `json:"serviceName"`
	Cluster string `json:"clusterArn"`
	Status  Status `json:"status"`
	// TaskDefinition is the family:revision the primary deployment runs.
	TaskDefinition          string                           `json:"taskDefinition"`
	SchedulingStrategy      SchedulingStrategy               `json:"schedulingStrategy"`
	DesiredCount            int                              `json:"desiredCount"`
	DeploymentConfiguration DeploymentConfiguration          `json:"deploymentConfiguration"`
	PlacementConstraints    []placement.Constraint           `json:"placementConstraints,omitempty"`
	PlacementStrategy       []placement.StrategySpec         `json:"placementStrategy,omitempty"`
	CapacityProviders       cluster.CapacityProviderStrategy `json:"capacityProviderStrategy,omitempty"`
	// HealthCheckGracePeriod delays acting on failed health checks of a
	// task that just started.
	HealthCheckGracePeriod time.Duration  `json:"healthCheckGracePeriod,omitempty"`
	LoadBalancers          []LoadBalancer `json:"loadBalancers,omitempty"`
	CreatedAt              time.Time      `json:"createdAt"`

	// NetworkConfiguration puts the service's tasks in security groups;
	// new deployments take it (see Deployment.NetworkConfiguration).
	NetworkConfiguration *task.NetworkConfiguration `json:"networkConfiguration,omitempty"`

	// Deployments, primary first.
	Deployments []Deployment `json:"deployments"`
	// LastCompleted is the last deployment that completed: the circuit
	// breaker's rollback target.
	LastCompleted *Deployment `json:"lastCompleted,omitempty"`
	// Steady is true while the service is in a steady state.
	Steady bool `json:"steady"`
	// DeploymentSeq numbers the service's deployments.
	DeploymentSeq int `json:"deploymentSeq"`
	// Events, newest first, at most MaxEvents.
	Events   []Event `json:"events,omitempty"`
	EventSeq int     `json:"eventSeq"`

	RunningCount int `json:"runningCount"`
	PendingCount int `json:"pendingCount"`

	// Routing is how the service's listener rules forward, as the
	// orchestrator last applied it (BLUE_GREEN, LINEAR and CANARY
	// strategies); nil before it first applied any.
	Routing *AppliedRouting `json:"routing,omitempty"`

	// Tags are the service's tags (written by the API: CreateService,
	// TagResource, UntagResource).
	Tags []task.Tag `json:"tags,omitempty"`

	// AvailabilityZoneRebalancing is ECS's availabilityZoneRebalancing:
	// ENABLED moves tasks from the availability zones with the most of
	// them to those with the fewest whenever the service, steady, is not
	// balanced over its zones (see Input.AZRebalancing). CreateService
	// defaults it to ENABLED, as ECS does; empty (a service stored
	// before) is DISABLED.
	AvailabilityZoneRebalancing AZRebalancing `json:"availabilityZoneRebalancing,omitempty"`
	// Rebalancing is true while an availability-zone rebalance is in
	// progress (written by the service controller).
	Rebalancing bool `json:"rebalancing,omitempty"`
}

// AZRebalancing says whether a service rebalances its tasks over
// availability zones.
type AZRebalancing string

// Values of AZRebalancing.
const (
	AZRebalancingEnabled  AZRebalancing = "ENABLED"
	AZRebalancingDisabled AZRebalancing = "DISABLED"
)

// Enabled reports whether rebalancing is on: ENABLED only.
func (r AZRebalancing) Enabled() bool { return r == AZRebalancingEnabled }

// Effective is the value in force: empty (a service stored before the
// property) is DISABLED, as ECS treats a service that never had one.
func (r AZRebalancing) Effective() AZRebalancing {
	if r == "" {
		return AZRebalancingDisabled
	}
	return r
}

// Clone returns a deep copy.
func (s Service) Clone() Service {
	out := s
	out.PlacementConstraints = slices.Clone(s.PlacementConstraints)
	out.PlacementStrategy = slices.Clone(s.PlacementStrategy)
	out.CapacityProviders = slices.Clone(s.CapacityProviders)
	out.LoadBalancers = slices.Clone(s.LoadBalancers)
	for i, lb := range out.LoadBalancers {
		if lb.AdvancedConfiguration != nil {
			ac := *lb.AdvancedConfiguration
			out.LoadBalancers[i].AdvancedConfiguration = &ac
		}
	}
	if s.Routing != nil {
		r := *s.Routing
		out.Routing = &r
	}
	out.Deployments = slices.Clone(s.Deployments)
	out.Events = slices.Clone(s.Events)
	out.Tags = slices.Clone(s.Tags)
	if s.LastCompleted != nil {
		lc := *s.LastCompleted
		out.LastCompleted = &lc
	}
	out.DeploymentConfiguration = s.DeploymentConfiguration.clone()
	out.NetworkConfiguration = s.NetworkConfiguration.Clone()
	for i := range out.Deployments {
		out.Deployments[i].NetworkConfiguration = s.Deployments[i].NetworkConfiguration.Clone()
	}
	if out.LastCompleted != nil {
		out.LastCompleted.NetworkConfiguration = s.LastCompleted.NetworkConfiguration.Clone()
	}
	return out
}

// Effective returns a deep copy of s as DescribeServices shows it: its
// deployment configuration with the percentages in force filled in (see
// DeploymentConfiguration.Effective). s is not changed.
func (s Service) Effective() Service {
	out := s.Clone()
	out.DeploymentConfiguration = s.DeploymentConfiguration.Effective(s.SchedulingStrategy)
	out.AvailabilityZoneRebalancing = s.AvailabilityZoneRebalancing.Effective()
	return out
}

func (c DeploymentConfiguration) clone() DeploymentConfiguration {
	out := c
	if c.MinimumHealthyPercent != nil {
		v := *c.MinimumHealthyPercent
		out.MinimumHealthyPercent = &v
	}
	if c.MaximumPercent != nil {
		v := *c.MaximumPercent
		out.MaximumPercent = &v
	}
	if c.CircuitBreaker != nil {
		v := *c.CircuitBreaker
		out.CircuitBreaker = &v
	}
	if c.LinearConfiguration != nil {
		v := *c.LinearConfiguration
		out.LinearConfiguration = &v
	}
	if c.CanaryConfiguration != nil {
		v := *c.CanaryConfiguration
		out.CanaryConfiguration = &v
	}
	if c.Alarms != nil {
		v := *c.Alarms
		v.AlarmNames = slices.Clone(v.AlarmNames)
		out.Alarms = &v
	}
	return out
}

// Primary returns the primary deployment, or nil.
func (s *Service) Primary() *Deployment {
	if len(s.Deployments) == 0 {
		return nil
	}
	return &s.Deployments[0]
}

// AddEvent records an event, newest first, keeping at most MaxEvents.
func (s *Service) AddEvent(now time.Time, msg string) {
	s.EventSeq++
	ev := Event{ID: fmt.Sprintf("%s-%d", s.Name, s.EventSeq), CreatedAt: now, Message: msg}
	s.Events = append([]Event{ev}, s.Events...)
	if len(s.Events) > MaxEvents {
		s.Events = s.Events[:MaxEvents]
	}
}

// DeploymentID names deployment number seq of a service:
// "ecs-svc/<service>/<seq>", unique within the service because its
// DeploymentSeq only grows.
func DeploymentID(service string, seq int) string {
	return fmt.Sprintf("ecs-svc/%s/%d", service, seq)
}

// NewDeployment makes a new primary deployment of taskDefinition with the
// service's network configuration; earlier deployments become ACTIVE.
func (s *Service) NewDeployment(taskDefinition string, now time.Time) *Deployment {
	s.DeploymentSeq++
	for i := range s.Deployments {
		s.Deployments[i].Status = Active
	}
	d := Deployment{
		ID:             DeploymentID(s.Name, s.DeploymentSeq),
		Status:         Primary,
		TaskDefinition: taskDefinition,
		DesiredCount:   s.DesiredCount,
		RolloutState:   RolloutInProgress,
		CreatedAt:      now,
		UpdatedAt:      now,
		// Shared, never changed in place: Deployment stays comparable.
		NetworkConfiguration: s.NetworkConfiguration,
	}
	s.Deployments = append([]Deployment{d}, s.Deployments...)
	s.TaskDefinition = taskDefinition
	s.Steady = false
	return &s.Deployments[0]
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)

// Validate checks the desired configuration of s, naming each bad field.
// Placement strategies of a custom type (not binpack, spread or random)
// are left to the placement scheduler they are registered on
// (placement.Scheduler.CheckStrategies).
func (s *Service) Validate() error {
	var v validation
	if !nameRE.MatchString(s.Name) {
		v.add("serviceName", "must be 1-255 letters, digits, hyphens and underscores, got %s", quote(s.Name))
	}
	if s.TaskDefinition == "" {
		v.add("taskDefinition", "is required")
	}
	switch s.SchedulingStrategy {
	case Replica, Daemon:
	default:
		v.add("schedulingStrategy", "must be REPLICA or DAEMON, got %s", quote(string(s.SchedulingStrategy)))
	}
	if s.SchedulingStrategy == Daemon && s.DesiredCount != 0 {
		// ECS: a DAEMON service runs one task per instance and takes no
		// desiredCount; one was accepted and silently described as 0.
		v.add("desiredCount", "must not be set with the DAEMON scheduling strategy, got %d", s.DesiredCount)
	} else if s.DesiredCount < 0 || s.DesiredCount > MaxDesiredCount {
		v.add("desiredCount", "must be between 0 and %d, got %d", MaxDesiredCount, s.DesiredCount)
	}
	if s.SchedulingStrategy == Daemon && len(s.PlacementStrategy) > 0 {
		v.add("placementStrategy", "is not supported with the DAEMON scheduling strategy")
	}
	switch s.AvailabilityZoneRebalancing {
	case "", AZRebalancingEnabled, AZRebalancingDisabled:
	default:
		v.add("availabilityZoneRebalancing", "must be ENABLED or DISABLED, got %s", quote(string(s.AvailabilityZoneRebalancing)))
	}
	if len(s.PlacementStrategy) > placement.MaxStrategies {
		v.add("placementStrategy", "must have at most %d strategies, got %d", placement.MaxStrategies, len(s.PlacementStrategy))
	}
	for i, st := range s.PlacementStrategy {
		if !st.IsBuiltin() {
			// A custom strategy type: only the placement scheduler it is
			// registered on knows it (the API checks it there).
			continue
		}
		if _, err := st.Strategy(); err != nil {
			// Strategy's paths start with "placementStrategy"; this is
			// item i of it.
			item := fmt.Sprintf("placementStrategy[%d]", i)
			for _, fe := range errdefs.FieldErrors(err) {
				v.add(item+strings.TrimPrefix(fe.Path, "placementStrategy"), "%s", fe.Reason)
			}
		}
	}
	if len(s.PlacementConstraints) > 10 {
		v.add("placementConstraints", "must have at most 10 constraints, got %d", len(s.PlacementConstraints))
	}
	if s.HealthCheckGracePeriod < 0 || s.HealthCheckGracePeriod > 2147483647*time.Second {
		v.add("healthCheckGracePeriodSeconds", "must be between 0 and 2147483647 seconds")
	}
	if n := len(s.LoadBalancers); n > MaxLoadBalancers {
		v.add("loadBalancers", "must have at most %d target groups, got %d", MaxLoadBalancers, n)
	}
	for i, lb := range s.LoadBalancers {
		if lb.ContainerName == "" {
			v.add(fmt.Sprintf("loadBalancers[%d].containerName", i), "is required")
		}
		if lb.ContainerPort < 1 || lb.ContainerPort > 65535 {
			v.add(fmt.Sprintf("loadBalancers[%d].containerPort", i), "must be between 1 and 65535, got %d", lb.ContainerPort)
		}
	}
	s.DeploymentConfiguration.validate(&v, "deploymentConfiguration", s.SchedulingStrategy)
	if s.DeploymentConfiguration.Strategy.BlueGreen() {
		validateBlueGreenLoadBalancers(&v, s.LoadBalancers)
	}
	return v.err()
}
