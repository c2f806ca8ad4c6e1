package ecsapi

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/placement"
	"github.com/stevedore-io/stevedore/service"
	"github.com/stevedore-io/stevedore/task"
)

// epoch is a time as ECS writes it: seconds since the Unix epoch, with
// milliseconds.
type epoch time.Time

// IsZero makes omitzero leave an unset time out.
func (e epoch) IsZero() bool { return time.Time(e).IsZero() }

// MarshalJSON writes seconds with a fraction.
func (e epoch) MarshalJSON() ([]byte, error) {
	return strconv.AppendFloat(nil, float64(time.Time(e).UnixMilli())/1000, 'f', 3, 64), nil
}

// timeMembers are the members of ECS's Task, Container and TaskDefinition
// shapes that are timestamps.
var timeMembers = map[string]bool{
	"createdAt": true, "pullStartedAt": true, "pullStoppedAt": true, "connectivityAt": true, "startedAt": true,
	"stoppingAt": true, "executionStoppedAt": true, "stoppedAt": true, "registeredAt": true, "deregisteredAt": true,
	"updatedAt": true,
}

// ecsObject is v's JSON (task and task definition types already use ECS's
// member names) with timestamps in epoch seconds and set members put in.
func ecsObject(v any, set map[string]any) (json.RawMessage, error) {
	js, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(js, &m); err != nil {
		return nil, err
	}
	epochs(m)
	for k, v := range set {
		m[k] = v
	}
	return json.Marshal(m)
}

// epochs rewrites the RFC 3339 timestamps of ECS's time members, at any
// depth, as epoch seconds.
func epochs(v any) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok && timeMembers[k] {
				if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
					v[k] = json.RawMessage(must(epoch(t).MarshalJSON()))
				}
				continue
			}
			epochs(x)
		}
	case []any:
		for _, x := range v {
			epochs(x)
		}
	}
}

func must(b []byte, _ error) []byte { return b }

func (h *Handler) wireTask(t *task.Task) (json.RawMessage, error) {
	set := map[string]any{
		"clusterArn":        h.o.ClusterARN(t.ClusterName()),
		"taskDefinitionArn": h.o.TaskDefinitionARN(t.TaskDefinitionRef()),
		"launchType":        "EC2",
	}
	if t.LaunchType != "" {
		set["launchType"] = t.LaunchType
	}
	if id := t.ContainerInstanceID(); id != "" {
		set["containerInstanceArn"] = h.o.ContainerInstanceARN(t.ClusterName(), id)
	}
	return ecsObject(t, set)
}

func (h *Handler) wireTasks(ts []*task.Task) ([]json.RawMessage, error) {
	out := []json.RawMessage{}
	for _, t := range ts {
		js, err := h.wireTask(t)
		if err != nil {
			return nil, err
		}
		out = append(out, js)
	}
	return out, nil
}

func (h *Handler) wireTaskDefinition(td *task.TaskDefinition) (json.RawMessage, error) {
	return ecsObject(td, map[string]any{"taskDefinitionArn": h.o.TaskDefinitionARN(td.Ref())})
}

// wireFailure is ECS's Failure.
type wireFailure struct {
	Arn    string `json:"arn,omitempty"`
	Reason string `json:"reason,omitempty"`
	Detail string `json:"detail,omitempty"`
}

func wireFailures(fs []stevedore.Failure) []wireFailure {
	out := []wireFailure{}
	for _, f := range fs {
		out = append(out, wireFailure(f))
	}
	return out
}

// wireCluster is ECS's Cluster.
type wireCluster struct {
	ClusterArn                        string                 `json:"clusterArn"`
	ClusterName                       string                 `json:"clusterName"`
	Status                            string                 `json:"status"`
	RegisteredContainerInstancesCount int                    `json:"registeredContainerInstancesCount"`
	RunningTasksCount                 int                    `json:"runningTasksCount"`
	PendingTasksCount                 int                    `json:"pendingTasksCount"`
	ActiveServicesCount               int                    `json:"activeServicesCount"`
	CapacityProviders                 []string               `json:"capacityProviders"`
	DefaultCapacityProviderStrategy   []wireProviderStrategy `json:"defaultCapacityProviderStrategy"`
	Tags                              []stevedore.Tag        `json:"tags,omitempty"`
}

func (h *Handler) wireCluster(d stevedore.ClusterDescription) wireCluster {
	return wireCluster{
		ClusterArn: h.o.ClusterARN(d.Name), ClusterName: d.Name, Status: string(d.Status),
		RegisteredContainerInstancesCount: d.RegisteredContainerInstancesCount,
		RunningTasksCount:                 d.RunningTasksCount, PendingTasksCount: d.PendingTasksCount,
		ActiveServicesCount: d.ActiveServicesCount, CapacityProviders: append([]string{}, d.CapacityProviders...),
		DefaultCapacityProviderStrategy: wireProviders(d.DefaultCapacityProviderStrategy),
	}
}

// wireProviderStrategy is ECS's CapacityProviderStrategyItem.
type wireProviderStrategy struct {
	CapacityProvider string `json:"capacityProvider"`
	Weight           int    `json:"weight"`
	Base             int    `json:"base"`
}

func wireProviders(s cluster.CapacityProviderStrategy) []wireProviderStrategy {
	out := []wireProviderStrategy{}
	for _, i := range s {
		out = append(out, wireProviderStrategy{CapacityProvider: i.CapacityProvider, Weight: i.Weight, Base: i.Base})
	}
	return out
}

func providersModel(s []wireProviderStrategy) cluster.CapacityProviderStrategy {
	var out cluster.CapacityProviderStrategy
	for _, i := range s {
		out = append(out, cluster.CapacityProviderStrategyItem{CapacityProvider: i.CapacityProvider, Weight: i.Weight, Base: i.Base})
	}
	return out
}

// wireConstraint is ECS's PlacementConstraint.
type wireConstraint struct {
	Type       string `json:"type"`
	Expression string `json:"expression,omitempty"`
}

// wireStrategy is ECS's PlacementStrategy.
type wireStrategy struct {
	Type  string `json:"type"`
	Field string `json:"field,omitempty"`
}

func constraintsModel(cs []wireConstraint) []placement.Constraint {
	var out []placement.Constraint
	for _, c := range cs {
		out = append(out, placement.Constraint{Type: placement.ConstraintType(c.Type), Expression: c.Expression})
	}
	return out
}

func strategiesModel(ss []wireStrategy) []placement.StrategySpec {
	var out []placement.StrategySpec
	for _, s := range ss {
		out = append(out, placement.StrategySpec{Type: placement.StrategyType(s.Type), Field: s.Field})
	}
	return out
}

func wireConstraints(cs []placement.Constraint) []wireConstraint {
	out := []wireConstraint{}
	for _, c := range cs {
		out = append(out, wireConstraint{Type: string(c.Type), Expression: c.Expression})
	}
	return out
}

func wireStrategies(ss []placement.StrategySpec) []wireStrategy {
	out := []wireStrategy{}
	for _, s := range ss {
		out = append(out, wireStrategy{Type: string(s.Type), Field: s.Field})
	}
	return out
}

// wireDeploymentConfiguration is ECS's DeploymentConfiguration, with
// durations in ECS's units (minutes).
type wireDeploymentConfiguration struct {
	MinimumHealthyPercent    *int                      `json:"minimumHealthyPercent,omitempty"`
	MaximumPercent           *int                      `json:"maximumPercent,omitempty"`
	DeploymentCircuitBreaker *service.CircuitBreaker   `json:"deploymentCircuitBreaker,omitempty"`
	Strategy                 string                    `json:"strategy,omitempty"`
	BakeTimeInMinutes        *int                      `json:"bakeTimeInMinutes,omitempty"`
	LinearConfiguration      *wireLinearConfiguration  `json:"linearConfiguration,omitempty"`
	CanaryConfiguration      *wireCanaryConfiguration  `json:"canaryConfiguration,omitempty"`
	Alarms                   *service.DeploymentAlarms `json:"alarms,omitempty"`
}

// wireLinearConfiguration is ECS's LinearConfiguration. An omitted member
// takes ECS's default: a step of 10% (service.DefaultStepPercent) baking 6
// minutes (service.DefaultStepBakeTime).
type wireLinearConfiguration struct {
	StepPercent           *float64 `json:"stepPercent,omitempty"`
	StepBakeTimeInMinutes *int     `json:"stepBakeTimeInMinutes,omitempty"`
}

// wireCanaryConfiguration is ECS's CanaryConfiguration. An omitted member
// takes ECS's default: 5% (service.DefaultCanaryPercent) baking 10 minutes
// (service.DefaultCanaryBakeTime).
type wireCanaryConfiguration struct {
	CanaryPercent           *float64 `json:"canaryPercent,omitempty"`
	CanaryBakeTimeInMinutes *int     `json:"canaryBakeTimeInMinutes,omitempty"`
}

// minutes is a duration given in minutes; def when it is not given.
func minutes(p *int, def time.Duration) time.Duration {
	if p == nil {
		return def
	}
	return time.Duration(*p) * time.Minute
}

// inMinutes is d in ECS's unit, whole minutes, rounded up: the Go API
// takes any duration (a test may bake seconds), and the wire never shows
// a shorter wait than the one kept. Nil for 0.
func inMinutes(d time.Duration) *int {
	if d == 0 {
		return nil
	}
	return wholeMinutes(d)
}

func wholeMinutes(d time.Duration) *int {
	m := int((d + time.Minute - 1) / time.Minute)
	return &m
}

// percent is a share given on the wire: 0 for one left out (the service's
// default applies), refused when given as 0, which would read as left out.
func percent(p *float64, member string) (float64, error) {
	if p == nil {
		return 0, nil
	}
	if *p == 0 {
		return 0, param(fmt.Sprintf("deploymentConfiguration.%s: must be a share above 0, got 0.", member))
	}
	return *p, nil
}

func (c *wireDeploymentConfiguration) model() (service.DeploymentConfiguration, error) {
	if c == nil {
		return service.DeploymentConfiguration{}, nil
	}
	out := service.DeploymentConfiguration{
		MinimumHealthyPercent: c.MinimumHealthyPercent, MaximumPercent: c.MaximumPercent, CircuitBreaker: c.DeploymentCircuitBreaker,
		Strategy: service.DeploymentStrategy(c.Strategy), BakeTime: minutes(c.BakeTimeInMinutes, 0), Alarms: c.Alarms,
	}
	if l := c.LinearConfiguration; l != nil {
		pct, err := percent(l.StepPercent, "linearConfiguration.stepPercent")
		if err != nil {
			return out, err
		}
		out.LinearConfiguration = &service.LinearConfiguration{StepPercent: pct, StepBakeTime: minutes(l.StepBakeTimeInMinutes, service.DefaultStepBakeTime)}
	}
	if cc := c.CanaryConfiguration; cc != nil {
		pct, err := percent(cc.CanaryPercent, "canaryConfiguration.canaryPercent")
		if err != nil {
			return out, err
		}
		out.CanaryConfiguration = &service.CanaryConfiguration{CanaryPercent: pct, CanaryBakeTime: minutes(cc.CanaryBakeTimeInMinutes, service.DefaultCanaryBakeTime)}
	}
	return out, nil
}

func wireDeploymentConfig(c service.DeploymentConfiguration) wireDeploymentConfiguration {
	out := wireDeploymentConfiguration{
		MinimumHealthyPercent: c.MinimumHealthyPercent, MaximumPercent: c.MaximumPercent, DeploymentCircuitBreaker: c.CircuitBreaker,
		Strategy: string(c.Strategy), BakeTimeInMinutes: inMinutes(c.BakeTime), Alarms: c.Alarms,
	}
	if l := c.LinearConfiguration; l != nil {
		pct := l.Percent()
		out.LinearConfiguration = &wireLinearConfiguration{StepPercent: &pct, StepBakeTimeInMinutes: wholeMinutes(l.StepBakeTime)}
	}
	if cc := c.CanaryConfiguration; cc != nil {
		pct := cc.Percent()
		out.CanaryConfiguration = &wireCanaryConfiguration{CanaryPercent: &pct, CanaryBakeTimeInMinutes: wholeMinutes(cc.CanaryBakeTime)}
	}
	return out
}

// wireDeployment is ECS's Deployment.
type wireDeployment struct {
	ID                 string `json:"id"`
	Status             string `json:"status"`
	TaskDefinition     string `json:"taskDefinition"`
	DesiredCount       int    `json:"desiredCount"`
	PendingCount       int    `json:"pendingCount"`
	RunningCount       int    `json:"runningCount"`
	FailedTasks        int    `json:"failedTasks"`
	CreatedAt          epoch  `json:"createdAt,omitzero"`
	UpdatedAt          epoch  `json:"updatedAt,omitzero"`
	LaunchType         string `json:"launchType"`
	RolloutState       string `json:"rolloutState,omitempty"`
	RolloutStateReason string `json:"rolloutStateReason,omitempty"`
}

// wireEvent is ECS's ServiceEvent.
type wireEvent struct {
	ID        string `json:"id"`
	CreatedAt epoch  `json:"createdAt"`
	Message   string `json:"message"`
}

// wireService is ECS's Service.
type wireService struct {
	ServiceArn                    string                      `json:"serviceArn"`
	ServiceName                   string                      `json:"serviceName"`
	ClusterArn                    string                      `json:"clusterArn"`
	Status                        string                      `json:"status"`
	DesiredCount                  int                         `json:"desiredCount"`
	RunningCount                  int                         `json:"runningCount"`
	PendingCount                  int                         `json:"pendingCount"`
	LaunchType                    string                      `json:"launchType"`
	TaskDefinition                string                      `json:"taskDefinition"`
	SchedulingStrategy            string                      `json:"schedulingStrategy"`
	DeploymentConfiguration       wireDeploymentConfiguration `json:"deploymentConfiguration"`
	Deployments                   []wireDeployment            `json:"deployments"`
	Events                        []wireEvent                 `json:"events"`
	CreatedAt                     epoch                       `json:"createdAt,omitzero"`
	PlacementConstraints          []wireConstraint            `json:"placementConstraints"`
	PlacementStrategy             []wireStrategy              `json:"placementStrategy"`
	CapacityProviderStrategy      []wireProviderStrategy      `json:"capacityProviderStrategy,omitempty"`
	HealthCheckGracePeriodSeconds *int                        `json:"healthCheckGracePeriodSeconds,omitempty"`
	LoadBalancers                 []service.LoadBalancer      `json:"loadBalancers"`
	NetworkConfiguration          *task.NetworkConfiguration  `json:"networkConfiguration,omitempty"`
	Tags                          []task.Tag                  `json:"tags,omitempty"`
	AvailabilityZoneRebalancing   string                      `json:"availabilityZoneRebalancing,omitempty"`
}

func (h *Handler) wireService(s service.Service) wireService {
	dc := s.DeploymentConfiguration.Effective(s.SchedulingStrategy)
	out := wireService{
		ServiceArn: h.o.ServiceARN(s.Cluster, s.Name), ServiceName: s.Name, ClusterArn: h.o.ClusterARN(s.Cluster),
		Status: string(s.Status), DesiredCount: s.DesiredCount, RunningCount: s.RunningCount, PendingCount: s.PendingCount,
		LaunchType: "EC2", TaskDefinition: h.o.TaskDefinitionARN(s.TaskDefinition), SchedulingStrategy: string(s.SchedulingStrategy),
		DeploymentConfiguration: wireDeploymentConfig(dc),
		Deployments:             []wireDeployment{}, Events: []wireEvent{}, CreatedAt: epoch(s.CreatedAt),
		PlacementConstraints: wireConstraints(s.PlacementConstraints), PlacementStrategy: wireStrategies(s.PlacementStrategy),
		LoadBalancers: append([]service.LoadBalancer{}, s.LoadBalancers...), NetworkConfiguration: s.NetworkConfiguration,
		AvailabilityZoneRebalancing: string(s.AvailabilityZoneRebalancing.Effective()),
	}
	if len(s.CapacityProviders) > 0 {
		out.CapacityProviderStrategy = wireProviders(s.CapacityProviders)
		out.LaunchType = ""
	}
	if s.HealthCheckGracePeriod > 0 {
		secs := int(s.HealthCheckGracePeriod / time.Second)
		out.HealthCheckGracePeriodSeconds = &secs
	}
	for _, d := range s.Deployments {
		if d.Status == service.Inactive {
			continue
		}
		out.Deployments = append(out.Deployments, wireDeployment{
			ID: d.ID, Status: string(d.Status), TaskDefinition: h.o.TaskDefinitionARN(d.TaskDefinition),
			DesiredCount: d.DesiredCount, PendingCount: d.PendingCount, RunningCount: d.RunningCount, FailedTasks: d.FailedTasks,
			CreatedAt: epoch(d.CreatedAt), UpdatedAt: epoch(d.UpdatedAt), LaunchType: out.LaunchType,
			RolloutState: string(d.RolloutState), RolloutStateReason: d.RolloutStateReason,
		})
	}
	for _, e := range s.Events {
		out.Events = append(out.Events, wireEvent{ID: e.ID, CreatedAt: epoch(e.CreatedAt), Message: e.Message})
	}
	return out
}

// wireResource is ECS's Resource: CPU and MEMORY as integers, PORTS and
// PORTS_UDP as string sets.
type wireResource struct {
	Name           string   `json:"name"`
	Type           string   `json:"type"`
	IntegerValue   int      `json:"integerValue,omitempty"`
	StringSetValue []string `json:"stringSetValue,omitempty"`
}

func wireResources(r cluster.Resources) []wireResource {
	out := []wireResource{
		{Name: "CPU", Type: "INTEGER", IntegerValue: r.CPU},
		{Name: "MEMORY", Type: "INTEGER", IntegerValue: r.Memory},
	}
	ports := map[cluster.Protocol][]string{}
	for _, p := range r.Ports {
		ports[p.Protocol] = append(ports[p.Protocol], strconv.Itoa(int(p.Number)))
	}
	out = append(out, wireResource{Name: "PORTS", Type: "STRINGSET", StringSetValue: ports[cluster.TCP]})
	out = append(out, wireResource{Name: "PORTS_UDP", Type: "STRINGSET", StringSetValue: ports[cluster.UDP]})
	return out
}

// wireAttribute is ECS's Attribute.
type wireAttribute struct {
	Name  string `json:"name"`
	Value string `json:"value,omitempty"`
}

// wireContainerInstance is ECS's ContainerInstance.
type wireContainerInstance struct {
	ContainerInstanceArn string            `json:"containerInstanceArn"`
	Ec2InstanceID        string            `json:"ec2InstanceId"`
	CapacityProviderName string            `json:"capacityProviderName,omitempty"`
	Status               string            `json:"status"`
	StatusReason         string            `json:"statusReason,omitempty"`
	AgentConnected       bool              `json:"agentConnected"`
	RunningTasksCount    int               `json:"runningTasksCount"`
	PendingTasksCount    int               `json:"pendingTasksCount"`
	RegisteredResources  []wireResource    `json:"registeredResources"`
	RemainingResources   []wireResource    `json:"remainingResources"`
	Attributes           []wireAttribute   `json:"attributes"`
	RegisteredAt         epoch             `json:"registeredAt,omitzero"`
	VersionInfo          map[string]string `json:"versionInfo"`
}

func (h *Handler) wireContainerInstance(i cluster.ContainerInstance) wireContainerInstance {
	out := wireContainerInstance{
		ContainerInstanceArn: h.o.ContainerInstanceARN(i.Cluster, i.ID), Ec2InstanceID: i.ID,
		CapacityProviderName: i.CapacityProvider, Status: string(i.Status), StatusReason: i.StatusReason,
		AgentConnected: i.AgentConnected, RunningTasksCount: i.RunningTasksCount, PendingTasksCount: i.PendingTasksCount,
		RegisteredResources: wireResources(i.Registered), RemainingResources: wireResources(i.Remaining),
		Attributes: []wireAttribute{}, RegisteredAt: epoch(i.RegisteredAt),
		VersionInfo: map[string]string{"agentVersion": i.AgentVersion},
	}
	for _, name := range slices.Sorted(maps.Keys(i.Attributes)) {
		out.Attributes = append(out.Attributes, wireAttribute{Name: name, Value: i.Attributes[name]})
	}
	return out
}
