package ecsapi

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/service"
	"github.com/stevedore-io/stevedore/task"
)

// actions are the ECS actions served, by name.
var actions = map[string]action{
	"CreateCluster":              handle(createCluster),
	"DescribeClusters":           handle(describeClusters),
	"DeleteCluster":              handle(deleteCluster),
	"ListClusters":               handle(listClusters),
	"RegisterTaskDefinition":     registerTaskDefinition,
	"DescribeTaskDefinition":     handle(describeTaskDefinition),
	"DeregisterTaskDefinition":   handle(deregisterTaskDefinition),
	"ListTaskDefinitions":        handle(listTaskDefinitions),
	"ListTaskDefinitionFamilies": handle(listTaskDefinitionFamilies),
	"CreateService":              handle(createService),
	"UpdateService":              handle(updateService),
	"DescribeServices":           handle(describeServices),
	"DeleteService":              handle(deleteService),
	"ListServices":               handle(listServices),
	"RunTask":                    handle(runTask),
	"StartTask":                  handle(startTask),
	"StopTask":                   handle(stopTask),
	"DescribeTasks":              handle(describeTasks),
	"ListTasks":                  handle(listTasks),

	"DescribeContainerInstances":    handle(describeContainerInstances),
	"ListContainerInstances":        handle(listContainerInstances),
	"DeregisterContainerInstance":   handle(deregisterContainerInstance),
	"UpdateContainerInstancesState": handle(updateContainerInstancesState),

	"PutAttributes":    handle(putAttributes),
	"DeleteAttributes": handle(deleteAttributes),
	"ListAttributes":   handle(listAttributes),

	"TagResource":         handle(tagResource),
	"UntagResource":       handle(untagResource),
	"ListTagsForResource": handle(listTagsForResource),

	"CreateCapacityProvider":      handle(createCapacityProvider),
	"PutClusterCapacityProviders": handle(putClusterCapacityProviders),
	"DescribeCapacityProviders":   handle(describeCapacityProviders),
	"DeleteCapacityProvider":      handle(deleteCapacityProvider),
}

// handle serves an action whose request decodes into In.
func handle[In any](serve func(ctx context.Context, h *Handler, in *In) (any, error)) action {
	return func(ctx context.Context, h *Handler, name string, body []byte) (any, error) {
		in := new(In)
		if err := decode(name, body, in); err != nil {
			return nil, err
		}
		if err := checkRequired(in); err != nil {
			return nil, err
		}
		return serve(ctx, h, in)
	}
}

// described is a Describe action's answer: the objects found, in ECS's
// shape, under member, and the failures.
func described[T, W any](member string, items []T, wire func(T) W, failures []stevedore.Failure) map[string]any {
	out := make([]W, 0, len(items))
	for _, it := range items {
		out = append(out, wire(it))
	}
	return map[string]any{member: out, "failures": wireFailures(failures)}
}

// param is an InvalidParameterException about a member.
func param(msg string) error { return clientError("InvalidParameterException", msg) }

// --- clusters

// createClusterInput is the request of CreateCluster.
type createClusterInput struct {
	ClusterName                     string                 `json:"clusterName"`
	CapacityProviders               []string               `json:"capacityProviders"`
	DefaultCapacityProviderStrategy []wireProviderStrategy `json:"defaultCapacityProviderStrategy"`
	Tags                            []stevedore.Tag        `json:"tags"`
}

func createCluster(ctx context.Context, h *Handler, in *createClusterInput) (any, error) {
	// A provider named here is a new ON_DEMAND one of the cluster
	// (CreateCapacityProvider declares a SPOT one).
	var providers []cluster.CapacityProvider
	for _, name := range in.CapacityProviders {
		providers = append(providers, cluster.CapacityProvider{Name: name, Kind: cluster.OnDemand, Status: cluster.CapacityProviderActive})
	}
	c, err := h.o.CreateCluster(ctx, &stevedore.CreateClusterInput{
		ClusterName: in.ClusterName, CapacityProviders: providers,
		DefaultCapacityProviderStrategy: providersModel(in.DefaultCapacityProviderStrategy), Tags: in.Tags,
	})
	if err != nil {
		return nil, err
	}
	d, err := h.describeCluster(ctx, c.Cluster.Name)
	if err != nil {
		return nil, err
	}
	return map[string]any{"cluster": d}, nil
}

func (h *Handler) describeCluster(ctx context.Context, name string) (wireCluster, error) {
	out, err := h.o.DescribeClusters(ctx, &stevedore.DescribeClustersInput{Clusters: []string{name}})
	if err != nil {
		return wireCluster{}, err
	}
	if len(out.Clusters) == 0 {
		return wireCluster{}, &stevedore.NotFoundError{Kind: "cluster", ID: name}
	}
	return h.wireCluster(out.Clusters[0]), nil
}

// describeClustersInput is the request of DescribeClusters.
type describeClustersInput struct {
	Clusters []string `json:"clusters"`
	Include  []string `json:"include"`
}

func describeClusters(ctx context.Context, h *Handler, in *describeClustersInput) (any, error) {
	out, err := h.o.DescribeClusters(ctx, &stevedore.DescribeClustersInput{Clusters: in.Clusters})
	if err != nil {
		return nil, err
	}
	tags := slices.Contains(in.Include, "TAGS")
	return described("clusters", out.Clusters, func(c stevedore.ClusterDescription) wireCluster {
		wc := h.wireCluster(c)
		if tags {
			wc.Tags = c.Tags
		}
		return wc
	}, out.Failures), nil
}

// deleteClusterInput is the request of DeleteCluster.
type deleteClusterInput struct {
	Cluster string `json:"cluster" ecs:"required"`
}

func deleteCluster(ctx context.Context, h *Handler, in *deleteClusterInput) (any, error) {
	out, err := h.o.DeleteCluster(ctx, &stevedore.DeleteClusterInput{Cluster: in.Cluster})
	if err != nil {
		return nil, err
	}
	return map[string]any{"cluster": h.wireCluster(out.Cluster)}, nil
}

// listClustersInput is the request of ListClusters.
type listClustersInput struct {
	NextToken  string `json:"nextToken"`
	MaxResults int    `json:"maxResults"`
}

func listClusters(ctx context.Context, h *Handler, in *listClustersInput) (any, error) {
	out, err := h.o.ListClusters(ctx, &stevedore.ListClustersInput{NextToken: in.NextToken, MaxResults: in.MaxResults})
	if err != nil {
		return nil, err
	}
	return listOutput("clusterArns", out.ClusterArns, out.NextToken), nil
}

// listOutput is a List action's answer: ARNs under member, and the next
// token when there are more.
func listOutput(member string, arns []string, next string) map[string]any {
	if arns == nil {
		arns = []string{}
	}
	out := map[string]any{member: arns}
	if next != "" {
		out["nextToken"] = next
	}
	return out
}

// --- task definitions

func registerTaskDefinition(ctx context.Context, h *Handler, _ string, body []byte) (any, error) {
	// The input is a task definition in ECS's JSON. ParseDefinition keeps
	// and reports the members Stevedore does not use: the ECS fields it
	// does not act on are accepted (a documented deviation) and logged; a
	// member that is not ECS's is refused, as every action refuses one.
	td, warnings, err := task.ParseDefinition(body)
	if err != nil {
		return nil, param(err.Error())
	}
	for _, w := range warnings {
		if strings.HasPrefix(w.Message, "unknown field") {
			return nil, clientError("SerializationException", fmt.Sprintf("Unknown member %s in the request of RegisterTaskDefinition: it is not an ECS member, or one Stevedore does not support.", w.Path))
		}
		h.log.Warn("ecsapi: RegisterTaskDefinition: a member is kept but not acted on", "family", td.Family, "member", w.Path, "why", w.Message)
	}
	reg, err := h.o.RegisterTaskDefinition(ctx, &stevedore.RegisterTaskDefinitionInput{TaskDefinition: *td})
	if err != nil {
		return nil, err
	}
	js, err := h.wireTaskDefinition(reg.TaskDefinition)
	if err != nil {
		return nil, err
	}
	return map[string]any{"taskDefinition": js, "tags": reg.Tags}, nil
}

// taskDefinitionInput is the request of Describe and
// DeregisterTaskDefinition.
type taskDefinitionInput struct {
	TaskDefinition string `json:"taskDefinition" ecs:"required"`
}

// taskDefinitionAnswer is the answer of Describe and
// DeregisterTaskDefinition: the definition and its tags.
func (h *Handler) taskDefinitionAnswer(td *task.TaskDefinition) (any, error) {
	js, err := h.wireTaskDefinition(td)
	if err != nil {
		return nil, err
	}
	tags := td.Tags
	if tags == nil {
		tags = []task.Tag{}
	}
	return map[string]any{"taskDefinition": js, "tags": tags}, nil
}

func describeTaskDefinition(ctx context.Context, h *Handler, in *taskDefinitionInput) (any, error) {
	out, err := h.o.DescribeTaskDefinition(ctx, &stevedore.DescribeTaskDefinitionInput{TaskDefinition: in.TaskDefinition})
	if err != nil {
		return nil, err
	}
	return h.taskDefinitionAnswer(out.TaskDefinition)
}

func deregisterTaskDefinition(ctx context.Context, h *Handler, in *taskDefinitionInput) (any, error) {
	out, err := h.o.DeregisterTaskDefinition(ctx, &stevedore.DeregisterTaskDefinitionInput{TaskDefinition: in.TaskDefinition})
	if err != nil {
		return nil, err
	}
	return h.taskDefinitionAnswer(out.TaskDefinition)
}

// listTaskDefinitionsInput is the request of ListTaskDefinitions.
type listTaskDefinitionsInput struct {
	FamilyPrefix string `json:"familyPrefix"`
	Status       string `json:"status"`
	Sort         string `json:"sort"`
	NextToken    string `json:"nextToken"`
	MaxResults   int    `json:"maxResults"`
}

func listTaskDefinitions(ctx context.Context, h *Handler, in *listTaskDefinitionsInput) (any, error) {
	out, err := h.o.ListTaskDefinitions(ctx, &stevedore.ListTaskDefinitionsInput{
		FamilyPrefix: in.FamilyPrefix, Status: task.DefinitionStatus(in.Status), Sort: in.Sort,
		MaxResults: in.MaxResults, NextToken: in.NextToken,
	})
	if err != nil {
		return nil, err
	}
	return listOutput("taskDefinitionArns", out.TaskDefinitionArns, out.NextToken), nil
}

// listTaskDefinitionFamiliesInput is the request of ListTaskDefinitionFamilies.
type listTaskDefinitionFamiliesInput struct {
	FamilyPrefix string `json:"familyPrefix"`
	Status       string `json:"status"`
	NextToken    string `json:"nextToken"`
	MaxResults   int    `json:"maxResults"`
}

func listTaskDefinitionFamilies(ctx context.Context, h *Handler, in *listTaskDefinitionFamiliesInput) (any, error) {
	out, err := h.o.ListTaskDefinitionFamilies(ctx, &stevedore.ListTaskDefinitionFamiliesInput{
		FamilyPrefix: in.FamilyPrefix, Status: task.DefinitionStatus(in.Status), MaxResults: in.MaxResults, NextToken: in.NextToken,
	})
	if err != nil {
		return nil, err
	}
	return listOutput("families", out.Families, out.NextToken), nil
}

// --- services

// serviceInput is the members CreateService and UpdateService share.
type serviceInput struct {
	Cluster                       string                       `json:"cluster"`
	TaskDefinition                *string                      `json:"taskDefinition"`
	DesiredCount                  *int                         `json:"desiredCount"`
	DeploymentConfiguration       *wireDeploymentConfiguration `json:"deploymentConfiguration"`
	PlacementConstraints          *[]wireConstraint            `json:"placementConstraints"`
	PlacementStrategy             *[]wireStrategy              `json:"placementStrategy"`
	HealthCheckGracePeriodSeconds *int                         `json:"healthCheckGracePeriodSeconds"`
	NetworkConfiguration          *wireNetworkConfiguration    `json:"networkConfiguration"`
	AvailabilityZoneRebalancing   *string                      `json:"availabilityZoneRebalancing"`
}

// azRebalancing is the availabilityZoneRebalancing member, nil when absent.
func (in *serviceInput) azRebalancing() *service.AZRebalancing {
	if in.AvailabilityZoneRebalancing == nil {
		return nil
	}
	r := service.AZRebalancing(*in.AvailabilityZoneRebalancing)
	return &r
}

func (in *serviceInput) gracePeriod() *time.Duration {
	if in.HealthCheckGracePeriodSeconds == nil {
		return nil
	}
	d := time.Duration(*in.HealthCheckGracePeriodSeconds) * time.Second
	return &d
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// createServiceInput is the request of CreateService.
type createServiceInput struct {
	serviceInput
	ServiceName              string                 `json:"serviceName" ecs:"required"`
	SchedulingStrategy       string                 `json:"schedulingStrategy"`
	LaunchType               string                 `json:"launchType"`
	CapacityProviderStrategy []wireProviderStrategy `json:"capacityProviderStrategy"`
	LoadBalancers            []service.LoadBalancer `json:"loadBalancers"`
	Tags                     []stevedore.Tag        `json:"tags"`
}

func createService(ctx context.Context, h *Handler, in *createServiceInput) (any, error) {
	if in.TaskDefinition == nil {
		return nil, param("taskDefinition is required.")
	}
	if err := h.checkLaunchType(ctx, in.Cluster, in.LaunchType, in.CapacityProviderStrategy); err != nil {
		return nil, err
	}
	network, err := in.NetworkConfiguration.model()
	if err != nil {
		return nil, err
	}
	deployment, err := in.DeploymentConfiguration.model()
	if err != nil {
		return nil, err
	}
	s, err := h.o.CreateService(ctx, &stevedore.CreateServiceInput{
		Cluster: in.Cluster, ServiceName: in.ServiceName, TaskDefinition: *in.TaskDefinition,
		DesiredCount: deref(in.DesiredCount), SchedulingStrategy: service.SchedulingStrategy(in.SchedulingStrategy),
		DeploymentConfiguration:     deployment,
		PlacementConstraints:        constraintsModel(deref(in.PlacementConstraints)),
		PlacementStrategy:           strategiesModel(deref(in.PlacementStrategy)),
		CapacityProviderStrategy:    providersModel(in.CapacityProviderStrategy),
		HealthCheckGracePeriod:      deref(in.gracePeriod()),
		LoadBalancers:               in.LoadBalancers,
		NetworkConfiguration:        network,
		Tags:                        in.Tags,
		AvailabilityZoneRebalancing: deref(in.azRebalancing()),
	})
	if err != nil {
		return nil, err
	}
	return map[string]any{"service": h.wireService(s.Service)}, nil
}

// updateServiceInput is the request of UpdateService.
type updateServiceInput struct {
	serviceInput
	Service            string `json:"service" ecs:"required"`
	ForceNewDeployment bool   `json:"forceNewDeployment"`
}

func updateService(ctx context.Context, h *Handler, in *updateServiceInput) (any, error) {
	network, err := in.NetworkConfiguration.model()
	if err != nil {
		return nil, err
	}
	up := stevedore.UpdateServiceInput{
		Cluster: in.Cluster, Service: in.Service, DesiredCount: in.DesiredCount,
		ForceNewDeployment: in.ForceNewDeployment, HealthCheckGracePeriod: in.gracePeriod(),
		NetworkConfiguration: network, AvailabilityZoneRebalancing: in.azRebalancing(),
	}
	if in.TaskDefinition != nil {
		ref := *in.TaskDefinition
		up.TaskDefinition = &ref
	}
	if in.DeploymentConfiguration != nil {
		dc, err := in.DeploymentConfiguration.model()
		if err != nil {
			return nil, err
		}
		up.DeploymentConfiguration = &dc
	}
	if in.PlacementConstraints != nil {
		cs := constraintsModel(*in.PlacementConstraints)
		up.PlacementConstraints = &cs
	}
	if in.PlacementStrategy != nil {
		ss := strategiesModel(*in.PlacementStrategy)
		up.PlacementStrategy = &ss
	}
	s, err := h.o.UpdateService(ctx, &up)
	if err != nil {
		return nil, err
	}
	return map[string]any{"service": h.wireService(s.Service)}, nil
}

// describeServicesInput is the request of DescribeServices.
type describeServicesInput struct {
	Cluster  string   `json:"cluster"`
	Services []string `json:"services"`
	Include  []string `json:"include"`
}

func describeServices(ctx context.Context, h *Handler, in *describeServicesInput) (any, error) {
	if len(in.Services) == 0 {
		return nil, param("services must name 1 to 10 services.")
	}
	out, err := h.o.DescribeServices(ctx, &stevedore.DescribeServicesInput{Cluster: in.Cluster, Services: in.Services})
	if err != nil {
		return nil, err
	}
	tags := slices.Contains(in.Include, "TAGS")
	return described("services", out.Services, func(s service.Service) wireService {
		ws := h.wireService(s)
		if tags {
			ws.Tags = s.Tags
		}
		return ws
	}, out.Failures), nil
}

// deleteServiceInput is the request of DeleteService.
type deleteServiceInput struct {
	Cluster string `json:"cluster"`
	Service string `json:"service"`
	Force   bool   `json:"force"`
}

func deleteService(ctx context.Context, h *Handler, in *deleteServiceInput) (any, error) {
	out, err := h.o.DeleteService(ctx, &stevedore.DeleteServiceInput{Cluster: in.Cluster, Service: in.Service, Force: in.Force})
	if err != nil {
		return nil, err
	}
	return map[string]any{"service": h.wireService(out.Service)}, nil
}

// listServicesInput is the request of ListServices.
type listServicesInput struct {
	Cluster            string `json:"cluster"`
	SchedulingStrategy string `json:"schedulingStrategy"`
	LaunchType         string `json:"launchType"`
	NextToken          string `json:"nextToken"`
	MaxResults         int    `json:"maxResults"`
}

func listServices(ctx context.Context, h *Handler, in *listServicesInput) (any, error) {
	if none, err := noneOfLaunchType(in.LaunchType); none || err != nil {
		return listOutput("serviceArns", nil, ""), err
	}
	out, err := h.o.ListServices(ctx, &stevedore.ListServicesInput{
		Cluster: in.Cluster, SchedulingStrategy: service.SchedulingStrategy(in.SchedulingStrategy),
		NextToken: in.NextToken, MaxResults: in.MaxResults,
	})
	if err != nil {
		return nil, err
	}
	return listOutput("serviceArns", out.ServiceArns, out.NextToken), nil
}

// --- tasks

// runTaskInput is the request of RunTask.
type runTaskInput struct {
	Cluster                  string                    `json:"cluster"`
	TaskDefinition           string                    `json:"taskDefinition" ecs:"required"`
	Count                    int                       `json:"count"`
	Group                    string                    `json:"group"`
	StartedBy                string                    `json:"startedBy"`
	LaunchType               string                    `json:"launchType"`
	PlacementConstraints     []wireConstraint          `json:"placementConstraints"`
	PlacementStrategy        []wireStrategy            `json:"placementStrategy"`
	CapacityProviderStrategy []wireProviderStrategy    `json:"capacityProviderStrategy"`
	Overrides                *task.TaskOverride        `json:"overrides"`
	NetworkConfiguration     *wireNetworkConfiguration `json:"networkConfiguration"`
	Tags                     []stevedore.Tag           `json:"tags"`
}

func runTask(ctx context.Context, h *Handler, in *runTaskInput) (any, error) {
	if err := h.checkLaunchType(ctx, in.Cluster, in.LaunchType, in.CapacityProviderStrategy); err != nil {
		return nil, err
	}
	network, err := in.NetworkConfiguration.model()
	if err != nil {
		return nil, err
	}
	out, err := h.o.RunTask(ctx, &stevedore.RunTaskInput{
		Cluster: in.Cluster, TaskDefinition: in.TaskDefinition, Count: in.Count, Group: in.Group, StartedBy: in.StartedBy,
		PlacementConstraints: constraintsModel(in.PlacementConstraints), PlacementStrategy: strategiesModel(in.PlacementStrategy),
		CapacityProviderStrategy: providersModel(in.CapacityProviderStrategy), Overrides: in.Overrides,
		NetworkConfiguration: network, Tags: in.Tags,
	})
	if err != nil {
		return nil, err
	}
	tasks, err := h.wireTasks(out.Tasks)
	if err != nil {
		return nil, err
	}
	return map[string]any{"tasks": tasks, "failures": wireFailures(out.Failures)}, nil
}

// stopTaskInput is the request of StopTask.
type stopTaskInput struct {
	Cluster string `json:"cluster"`
	Task    string `json:"task" ecs:"required"`
	Reason  string `json:"reason"`
}

func stopTask(ctx context.Context, h *Handler, in *stopTaskInput) (any, error) {
	out, err := h.o.StopTask(ctx, &stevedore.StopTaskInput{Cluster: in.Cluster, Task: in.Task, Reason: in.Reason})
	if err != nil {
		return nil, err
	}
	js, err := h.wireTask(out.Task)
	if err != nil {
		return nil, err
	}
	return map[string]any{"task": js}, nil
}

// describeTasksInput is the request of DescribeTasks.
type describeTasksInput struct {
	Cluster string   `json:"cluster"`
	Tasks   []string `json:"tasks"`
}

func describeTasks(ctx context.Context, h *Handler, in *describeTasksInput) (any, error) {
	out, err := h.o.DescribeTasks(ctx, &stevedore.DescribeTasksInput{Cluster: in.Cluster, Tasks: in.Tasks})
	if err != nil {
		return nil, err
	}
	tasks, err := h.wireTasks(out.Tasks)
	if err != nil {
		return nil, err
	}
	return map[string]any{"tasks": tasks, "failures": wireFailures(out.Failures)}, nil
}

// listTasksInput is the request of ListTasks.
type listTasksInput struct {
	Cluster           string `json:"cluster"`
	ContainerInstance string `json:"containerInstance"`
	Family            string `json:"family"`
	StartedBy         string `json:"startedBy"`
	ServiceName       string `json:"serviceName"`
	DesiredStatus     string `json:"desiredStatus"`
	LaunchType        string `json:"launchType"`
	NextToken         string `json:"nextToken"`
	MaxResults        int    `json:"maxResults"`
}

func listTasks(ctx context.Context, h *Handler, in *listTasksInput) (any, error) {
	if none, err := noneOfLaunchType(in.LaunchType); none || err != nil {
		return listOutput("taskArns", nil, ""), err
	}
	out, err := h.o.ListTasks(ctx, &stevedore.ListTasksInput{
		Cluster: in.Cluster, ContainerInstance: in.ContainerInstance, Family: in.Family,
		StartedBy: in.StartedBy, ServiceName: in.ServiceName, DesiredStatus: task.Status(in.DesiredStatus),
		MaxResults: in.MaxResults, NextToken: in.NextToken,
	})
	if err != nil {
		return nil, err
	}
	return listOutput("taskArns", out.TaskArns, out.NextToken), nil
}

// --- container instances

// describeContainerInstancesInput is the request of DescribeContainerInstances.
type describeContainerInstancesInput struct {
	Cluster            string   `json:"cluster"`
	ContainerInstances []string `json:"containerInstances"`
}

func describeContainerInstances(ctx context.Context, h *Handler, in *describeContainerInstancesInput) (any, error) {
	if len(in.ContainerInstances) == 0 {
		return nil, param("containerInstances must name 1 to 100 container instances.")
	}
	out, err := h.o.DescribeContainerInstances(ctx, &stevedore.DescribeContainerInstancesInput{Cluster: in.Cluster, ContainerInstances: in.ContainerInstances})
	if err != nil {
		return nil, err
	}
	return described("containerInstances", out.ContainerInstances, h.wireContainerInstance, out.Failures), nil
}

// listContainerInstancesInput is the request of ListContainerInstances.
type listContainerInstancesInput struct {
	Cluster    string `json:"cluster"`
	Filter     string `json:"filter"`
	Status     string `json:"status"`
	NextToken  string `json:"nextToken"`
	MaxResults int    `json:"maxResults"`
}

func listContainerInstances(ctx context.Context, h *Handler, in *listContainerInstancesInput) (any, error) {
	out, err := h.o.ListContainerInstances(ctx, &stevedore.ListContainerInstancesInput{
		Cluster: in.Cluster, Filter: in.Filter, Status: cluster.InstanceStatus(in.Status),
		MaxResults: in.MaxResults, NextToken: in.NextToken,
	})
	if err != nil {
		return nil, err
	}
	return listOutput("containerInstanceArns", out.ContainerInstanceArns, out.NextToken), nil
}

// deregisterContainerInstanceInput is the request of DeregisterContainerInstance.
type deregisterContainerInstanceInput struct {
	Cluster           string `json:"cluster"`
	ContainerInstance string `json:"containerInstance" ecs:"required"`
	Force             bool   `json:"force"`
}

func deregisterContainerInstance(ctx context.Context, h *Handler, in *deregisterContainerInstanceInput) (any, error) {
	out, err := h.o.DeregisterContainerInstance(ctx, &stevedore.DeregisterContainerInstanceInput{
		Cluster: in.Cluster, ContainerInstance: in.ContainerInstance, Force: in.Force,
	})
	if err != nil {
		return nil, err
	}
	return map[string]any{"containerInstance": h.wireContainerInstance(out.ContainerInstance)}, nil
}

// updateContainerInstancesStateInput is the request of UpdateContainerInstancesState.
type updateContainerInstancesStateInput struct {
	Cluster            string   `json:"cluster"`
	ContainerInstances []string `json:"containerInstances"`
	Status             string   `json:"status"`
}

func updateContainerInstancesState(ctx context.Context, h *Handler, in *updateContainerInstancesStateInput) (any, error) {
	out, err := h.o.UpdateContainerInstancesState(ctx, &stevedore.UpdateContainerInstancesStateInput{
		Cluster: in.Cluster, ContainerInstances: in.ContainerInstances, Status: cluster.InstanceStatus(in.Status),
	})
	if err != nil {
		return nil, err
	}
	return described("containerInstances", out.ContainerInstances, h.wireContainerInstance, out.Failures), nil
}

// --- attributes

// wireAttributeTarget is ECS's Attribute with its target.
type wireAttributeTarget struct {
	Name       string `json:"name"`
	Value      string `json:"value,omitempty"`
	TargetType string `json:"targetType,omitempty"`
	TargetID   string `json:"targetId,omitempty"`
}

func attributesModel(as []wireAttributeTarget) []stevedore.Attribute {
	out := make([]stevedore.Attribute, len(as))
	for i, a := range as {
		out[i] = stevedore.Attribute(a)
	}
	return out
}

func wireAttributes(as []stevedore.Attribute) []wireAttributeTarget {
	out := make([]wireAttributeTarget, len(as))
	for i, a := range as {
		out[i] = wireAttributeTarget(a)
	}
	return out
}

// attributesInput is PutAttributes' and DeleteAttributes' input.
type attributesInput struct {
	Cluster    string                `json:"cluster"`
	Attributes []wireAttributeTarget `json:"attributes"`
}

func putAttributes(ctx context.Context, h *Handler, in *attributesInput) (any, error) {
	out, err := h.o.PutAttributes(ctx, &stevedore.PutAttributesInput{Cluster: in.Cluster, Attributes: attributesModel(in.Attributes)})
	if err != nil {
		return nil, err
	}
	return map[string]any{"attributes": wireAttributes(out.Attributes)}, nil
}

func deleteAttributes(ctx context.Context, h *Handler, in *attributesInput) (any, error) {
	out, err := h.o.DeleteAttributes(ctx, &stevedore.DeleteAttributesInput{Cluster: in.Cluster, Attributes: attributesModel(in.Attributes)})
	if err != nil {
		return nil, err
	}
	return map[string]any{"attributes": wireAttributes(out.Attributes)}, nil
}

// listAttributesInput is the request of ListAttributes.
type listAttributesInput struct {
	Cluster        string `json:"cluster"`
	TargetType     string `json:"targetType"`
	AttributeName  string `json:"attributeName"`
	AttributeValue string `json:"attributeValue"`
	NextToken      string `json:"nextToken"`
	MaxResults     int    `json:"maxResults"`
}

func listAttributes(ctx context.Context, h *Handler, in *listAttributesInput) (any, error) {
	out, err := h.o.ListAttributes(ctx, &stevedore.ListAttributesInput{
		Cluster: in.Cluster, TargetType: in.TargetType, AttributeName: in.AttributeName, AttributeValue: in.AttributeValue,
		MaxResults: in.MaxResults, NextToken: in.NextToken,
	})
	if err != nil {
		return nil, err
	}
	res := map[string]any{"attributes": wireAttributes(out.Attributes)}
	if out.NextToken != "" {
		res["nextToken"] = out.NextToken
	}
	return res, nil
}

// startTaskInput is the request of StartTask.
type startTaskInput struct {
	Cluster              string                    `json:"cluster"`
	TaskDefinition       string                    `json:"taskDefinition" ecs:"required"`
	ContainerInstances   []string                  `json:"containerInstances"`
	Group                string                    `json:"group"`
	StartedBy            string                    `json:"startedBy"`
	Overrides            *task.TaskOverride        `json:"overrides"`
	NetworkConfiguration *wireNetworkConfiguration `json:"networkConfiguration"`
}

func startTask(ctx context.Context, h *Handler, in *startTaskInput) (any, error) {
	network, err := in.NetworkConfiguration.model()
	if err != nil {
		return nil, err
	}
	out, err := h.o.StartTask(ctx, &stevedore.StartTaskInput{
		Cluster: in.Cluster, TaskDefinition: in.TaskDefinition, ContainerInstances: in.ContainerInstances,
		Group: in.Group, StartedBy: in.StartedBy, Overrides: in.Overrides, NetworkConfiguration: network,
	})
	if err != nil {
		return nil, err
	}
	tasks, err := h.wireTasks(out.Tasks)
	if err != nil {
		return nil, err
	}
	return map[string]any{"tasks": tasks, "failures": wireFailures(out.Failures)}, nil
}

// --- tags

// tagResourceInput is the request of TagResource.
type tagResourceInput struct {
	ResourceArn string          `json:"resourceArn"`
	Tags        []stevedore.Tag `json:"tags"`
}

func tagResource(ctx context.Context, h *Handler, in *tagResourceInput) (any, error) {
	if _, err := h.o.TagResource(ctx, &stevedore.TagResourceInput{ResourceArn: in.ResourceArn, Tags: in.Tags}); err != nil {
		return nil, err
	}
	return map[string]any{}, nil
}

// untagResourceInput is the request of UntagResource.
type untagResourceInput struct {
	ResourceArn string   `json:"resourceArn"`
	TagKeys     []string `json:"tagKeys"`
}

func untagResource(ctx context.Context, h *Handler, in *untagResourceInput) (any, error) {
	if _, err := h.o.UntagResource(ctx, &stevedore.UntagResourceInput{ResourceArn: in.ResourceArn, TagKeys: in.TagKeys}); err != nil {
		return nil, err
	}
	return map[string]any{}, nil
}

// listTagsForResourceInput is the request of ListTagsForResource.
type listTagsForResourceInput struct {
	ResourceArn string `json:"resourceArn"`
}

func listTagsForResource(ctx context.Context, h *Handler, in *listTagsForResourceInput) (any, error) {
	out, err := h.o.ListTagsForResource(ctx, &stevedore.ListTagsForResourceInput{ResourceArn: in.ResourceArn})
	if err != nil {
		return nil, err
	}
	tags := out.Tags
	if tags == nil {
		tags = []stevedore.Tag{}
	}
	return map[string]any{"tags": tags}, nil
}
