package ecsapi

import (
	"context"
	"slices"
	"time"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/service"
	"github.com/stevedore-io/stevedore/task"
)

// actions are the ECS actions served, by name.
var actions = map[string]action{
	"CreateCluster":              createCluster,
	"DescribeClusters":           describeClusters,
	"DeleteCluster":              deleteCluster,
	"ListClusters":               listClusters,
	"RegisterTaskDefinition":     registerTaskDefinition,
	"DescribeTaskDefinition":     describeTaskDefinition,
	"DeregisterTaskDefinition":   deregisterTaskDefinition,
	"ListTaskDefinitions":        listTaskDefinitions,
	"ListTaskDefinitionFamilies": listTaskDefinitionFamilies,
	"CreateService":              createService,
	"UpdateService":              updateService,
	"DescribeServices":           describeServices,
	"DeleteService":              deleteService,
	"ListServices":               listServices,
	"RunTask":                    runTask,
	"StartTask":                  startTask,
	"StopTask":                   stopTask,
	"DescribeTasks":              describeTasks,
	"ListTasks":                  listTasks,

	"DescribeContainerInstances":    describeContainerInstances,
	"ListContainerInstances":        listContainerInstances,
	"DeregisterContainerInstance":   deregisterContainerInstance,
	"UpdateContainerInstancesState": updateContainerInstancesState,

	"PutAttributes":    putAttributes,
	"DeleteAttributes": deleteAttributes,
	"ListAttributes":   listAttributes,

	"TagResource":         tagResource,
	"UntagResource":       untagResource,
	"ListTagsForResource": listTagsForResource,
}

// param is an InvalidParameterException about a member.
func param(msg string) error { return clientError("InvalidParameterException", msg) }

// --- clusters

func createCluster(ctx context.Context, h *Handler, body []byte) (any, error) {
	var in struct {
		ClusterName                     string                 `json:"clusterName"`
		DefaultCapacityProviderStrategy []wireProviderStrategy `json:"defaultCapacityProviderStrategy"`
		Tags                            []stevedore.Tag        `json:"tags"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	c, err := h.o.CreateCluster(ctx, stevedore.CreateClusterInput{
		ClusterName: in.ClusterName, DefaultCapacityProviderStrategy: providersModel(in.DefaultCapacityProviderStrategy), Tags: in.Tags,
	})
	if err != nil {
		return nil, err
	}
	d, err := h.describeCluster(ctx, c.Name)
	if err != nil {
		return nil, err
	}
	return map[string]any{"cluster": d}, nil
}

func (h *Handler) describeCluster(ctx context.Context, name string) (wireCluster, error) {
	out, err := h.o.DescribeClusters(ctx, stevedore.DescribeClustersInput{Clusters: []string{name}})
	if err != nil {
		return wireCluster{}, err
	}
	if len(out.Clusters) == 0 {
		return wireCluster{}, &stevedore.NotFoundError{Kind: "cluster", ID: name}
	}
	return h.wireCluster(out.Clusters[0]), nil
}

func describeClusters(ctx context.Context, h *Handler, body []byte) (any, error) {
	var in struct {
		Clusters []string `json:"clusters"`
		Include  []string `json:"include"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	out, err := h.o.DescribeClusters(ctx, stevedore.DescribeClustersInput{Clusters: in.Clusters})
	if err != nil {
		return nil, err
	}
	clusters := []wireCluster{}
	for _, c := range out.Clusters {
		wc := h.wireCluster(c)
		if slices.Contains(in.Include, "TAGS") {
			wc.Tags = c.Tags
		}
		clusters = append(clusters, wc)
	}
	return map[string]any{"clusters": clusters, "failures": wireFailures(out.Failures)}, nil
}

func deleteCluster(ctx context.Context, h *Handler, body []byte) (any, error) {
	var in struct {
		Cluster string `json:"cluster"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.Cluster == "" {
		return nil, param("cluster is required.")
	}
	out, err := h.o.DeleteCluster(ctx, stevedore.DeleteClusterInput{Cluster: in.Cluster})
	if err != nil {
		return nil, err
	}
	return map[string]any{"cluster": h.wireCluster(out.Cluster)}, nil
}

func listClusters(ctx context.Context, h *Handler, body []byte) (any, error) {
	var in struct {
		NextToken  string `json:"nextToken"`
		MaxResults int    `json:"maxResults"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	out, err := h.o.ListClusters(ctx, stevedore.ListClustersInput{NextToken: in.NextToken, MaxResults: in.MaxResults})
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

func registerTaskDefinition(ctx context.Context, h *Handler, body []byte) (any, error) {
	// The input is a task definition in ECS's JSON; ParseDefinition keeps
	// what Stevedore does not use and reports it.
	td, _, err := task.ParseDefinition(body)
	if err != nil {
		return nil, param(err.Error())
	}
	reg, err := h.o.RegisterTaskDefinition(ctx, td)
	if err != nil {
		return nil, err
	}
	js, err := h.wireTaskDefinition(reg)
	if err != nil {
		return nil, err
	}
	return map[string]any{"taskDefinition": js, "tags": reg.Tags}, nil
}

// taskDefinitionRef reads the taskDefinition member of Describe and
// DeregisterTaskDefinition.
func taskDefinitionRef(body []byte) (string, error) {
	var in struct {
		TaskDefinition string `json:"taskDefinition"`
	}
	if err := decode(body, &in); err != nil {
		return "", err
	}
	if in.TaskDefinition == "" {
		return "", param("taskDefinition is required.")
	}
	return in.TaskDefinition, nil
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

func describeTaskDefinition(ctx context.Context, h *Handler, body []byte) (any, error) {
	ref, err := taskDefinitionRef(body)
	if err != nil {
		return nil, err
	}
	out, err := h.o.DescribeTaskDefinition(ctx, stevedore.DescribeTaskDefinitionInput{TaskDefinition: ref})
	if err != nil {
		return nil, err
	}
	return h.taskDefinitionAnswer(out.TaskDefinition)
}

func deregisterTaskDefinition(ctx context.Context, h *Handler, body []byte) (any, error) {
	ref, err := taskDefinitionRef(body)
	if err != nil {
		return nil, err
	}
	out, err := h.o.DeregisterTaskDefinition(ctx, stevedore.DeregisterTaskDefinitionInput{TaskDefinition: ref})
	if err != nil {
		return nil, err
	}
	return h.taskDefinitionAnswer(out.TaskDefinition)
}

func listTaskDefinitions(ctx context.Context, h *Handler, body []byte) (any, error) {
	var in struct {
		FamilyPrefix string `json:"familyPrefix"`
		Status       string `json:"status"`
		Sort         string `json:"sort"`
		NextToken    string `json:"nextToken"`
		MaxResults   int    `json:"maxResults"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	out, err := h.o.ListTaskDefinitions(ctx, stevedore.ListTaskDefinitionsInput{
		FamilyPrefix: in.FamilyPrefix, Status: task.DefinitionStatus(in.Status), Sort: in.Sort,
		MaxResults: in.MaxResults, NextToken: in.NextToken,
	})
	if err != nil {
		return nil, err
	}
	return listOutput("taskDefinitionArns", out.TaskDefinitionArns, out.NextToken), nil
}

func listTaskDefinitionFamilies(ctx context.Context, h *Handler, body []byte) (any, error) {
	var in struct {
		FamilyPrefix string `json:"familyPrefix"`
		Status       string `json:"status"`
		NextToken    string `json:"nextToken"`
		MaxResults   int    `json:"maxResults"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	out, err := h.o.ListTaskDefinitionFamilies(ctx, stevedore.ListTaskDefinitionFamiliesInput{
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
	NetworkConfiguration          *task.NetworkConfiguration   `json:"networkConfiguration"`
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

func createService(ctx context.Context, h *Handler, body []byte) (any, error) {
	var in struct {
		serviceInput
		ServiceName              string                 `json:"serviceName"`
		SchedulingStrategy       string                 `json:"schedulingStrategy"`
		CapacityProviderStrategy []wireProviderStrategy `json:"capacityProviderStrategy"`
		LoadBalancers            []service.LoadBalancer `json:"loadBalancers"`
		Tags                     []stevedore.Tag        `json:"tags"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.ServiceName == "" {
		return nil, param("serviceName is required.")
	}
	if in.TaskDefinition == nil {
		return nil, param("taskDefinition is required.")
	}
	s, err := h.o.CreateService(ctx, stevedore.CreateServiceInput{
		Cluster: in.Cluster, ServiceName: in.ServiceName, TaskDefinition: *in.TaskDefinition,
		DesiredCount: deref(in.DesiredCount), SchedulingStrategy: service.SchedulingStrategy(in.SchedulingStrategy),
		DeploymentConfiguration:  in.DeploymentConfiguration.model(),
		PlacementConstraints:     constraintsModel(deref(in.PlacementConstraints)),
		PlacementStrategy:        strategiesModel(deref(in.PlacementStrategy)),
		CapacityProviderStrategy: providersModel(in.CapacityProviderStrategy),
		HealthCheckGracePeriod:   deref(in.gracePeriod()),
		LoadBalancers:            in.LoadBalancers,
		NetworkConfiguration:     in.NetworkConfiguration,
		Tags:                     in.Tags,
	})
	if err != nil {
		return nil, err
	}
	return map[string]any{"service": h.wireService(*s)}, nil
}

func updateService(ctx context.Context, h *Handler, body []byte) (any, error) {
	var in struct {
		serviceInput
		Service            string `json:"service"`
		ForceNewDeployment bool   `json:"forceNewDeployment"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.Service == "" {
		return nil, param("service is required.")
	}
	// ECS refuses to update a service that is being deleted or was.
	cur, err := h.o.DescribeServices(ctx, stevedore.DescribeServicesInput{Cluster: in.Cluster, Services: []string{in.Service}})
	if err != nil {
		return nil, err
	}
	if len(cur.Services) == 0 {
		return nil, clientError("ServiceNotFoundException", "Service not found.")
	}
	if cur.Services[0].Status != service.StatusActive {
		return nil, clientError("ServiceNotActiveException", "Service was not ACTIVE: it is "+string(cur.Services[0].Status)+".")
	}
	up := stevedore.UpdateServiceInput{
		Cluster: in.Cluster, Service: in.Service, DesiredCount: in.DesiredCount,
		ForceNewDeployment: in.ForceNewDeployment, HealthCheckGracePeriod: in.gracePeriod(),
		NetworkConfiguration: in.NetworkConfiguration,
	}
	if in.TaskDefinition != nil {
		ref := *in.TaskDefinition
		up.TaskDefinition = &ref
	}
	if in.DeploymentConfiguration != nil {
		dc := in.DeploymentConfiguration.model()
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
	s, err := h.o.UpdateService(ctx, up)
	if err != nil {
		return nil, err
	}
	return map[string]any{"service": h.wireService(*s)}, nil
}

func describeServices(ctx context.Context, h *Handler, body []byte) (any, error) {
	var in struct {
		Cluster  string   `json:"cluster"`
		Services []string `json:"services"`
		Include  []string `json:"include"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if len(in.Services) == 0 {
		return nil, param("services must name 1 to 10 services.")
	}
	out, err := h.o.DescribeServices(ctx, stevedore.DescribeServicesInput{Cluster: in.Cluster, Services: in.Services})
	if err != nil {
		return nil, err
	}
	services := []wireService{}
	for _, s := range out.Services {
		ws := h.wireService(s)
		if slices.Contains(in.Include, "TAGS") {
			ws.Tags = s.Tags
		}
		services = append(services, ws)
	}
	return map[string]any{"services": services, "failures": wireFailures(out.Failures)}, nil
}

func deleteService(ctx context.Context, h *Handler, body []byte) (any, error) {
	var in struct {
		Cluster string `json:"cluster"`
		Service string `json:"service"`
		Force   bool   `json:"force"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	out, err := h.o.DeleteService(ctx, stevedore.DeleteServiceInput{Cluster: in.Cluster, Service: in.Service, Force: in.Force})
	if err != nil {
		return nil, err
	}
	return map[string]any{"service": h.wireService(out.Service)}, nil
}

func listServices(ctx context.Context, h *Handler, body []byte) (any, error) {
	var in struct {
		Cluster            string `json:"cluster"`
		SchedulingStrategy string `json:"schedulingStrategy"`
		NextToken          string `json:"nextToken"`
		MaxResults         int    `json:"maxResults"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	out, err := h.o.ListServices(ctx, stevedore.ListServicesInput{
		Cluster: in.Cluster, SchedulingStrategy: service.SchedulingStrategy(in.SchedulingStrategy),
		NextToken: in.NextToken, MaxResults: in.MaxResults,
	})
	if err != nil {
		return nil, err
	}
	return listOutput("serviceArns", out.ServiceArns, out.NextToken), nil
}

// --- tasks

func runTask(ctx context.Context, h *Handler, body []byte) (any, error) {
	var in struct {
		Cluster                  string                     `json:"cluster"`
		TaskDefinition           string                     `json:"taskDefinition"`
		Count                    int                        `json:"count"`
		Group                    string                     `json:"group"`
		StartedBy                string                     `json:"startedBy"`
		PlacementConstraints     []wireConstraint           `json:"placementConstraints"`
		PlacementStrategy        []wireStrategy             `json:"placementStrategy"`
		CapacityProviderStrategy []wireProviderStrategy     `json:"capacityProviderStrategy"`
		Overrides                *task.TaskOverride         `json:"overrides"`
		NetworkConfiguration     *task.NetworkConfiguration `json:"networkConfiguration"`
		Tags                     []stevedore.Tag            `json:"tags"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.TaskDefinition == "" {
		return nil, param("taskDefinition is required.")
	}
	out, err := h.o.RunTask(ctx, stevedore.RunTaskInput{
		Cluster: in.Cluster, TaskDefinition: in.TaskDefinition, Count: in.Count, Group: in.Group, StartedBy: in.StartedBy,
		PlacementConstraints: constraintsModel(in.PlacementConstraints), PlacementStrategy: strategiesModel(in.PlacementStrategy),
		CapacityProviderStrategy: providersModel(in.CapacityProviderStrategy), Overrides: in.Overrides,
		NetworkConfiguration: in.NetworkConfiguration, Tags: in.Tags,
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

func stopTask(ctx context.Context, h *Handler, body []byte) (any, error) {
	var in struct {
		Cluster string `json:"cluster"`
		Task    string `json:"task"`
		Reason  string `json:"reason"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.Task == "" {
		return nil, param("task is required.")
	}
	out, err := h.o.StopTask(ctx, stevedore.StopTaskInput{Cluster: in.Cluster, Task: in.Task, Reason: in.Reason})
	if err != nil {
		return nil, err
	}
	js, err := h.wireTask(out.Task)
	if err != nil {
		return nil, err
	}
	return map[string]any{"task": js}, nil
}

func describeTasks(ctx context.Context, h *Handler, body []byte) (any, error) {
	var in struct {
		Cluster string   `json:"cluster"`
		Tasks   []string `json:"tasks"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	out, err := h.o.DescribeTasks(ctx, stevedore.DescribeTasksInput{Cluster: in.Cluster, Tasks: in.Tasks})
	if err != nil {
		return nil, err
	}
	tasks, err := h.wireTasks(out.Tasks)
	if err != nil {
		return nil, err
	}
	return map[string]any{"tasks": tasks, "failures": wireFailures(out.Failures)}, nil
}

func listTasks(ctx context.Context, h *Handler, body []byte) (any, error) {
	var in struct {
		Cluster           string `json:"cluster"`
		ContainerInstance string `json:"containerInstance"`
		Family            string `json:"family"`
		StartedBy         string `json:"startedBy"`
		ServiceName       string `json:"serviceName"`
		DesiredStatus     string `json:"desiredStatus"`
		NextToken         string `json:"nextToken"`
		MaxResults        int    `json:"maxResults"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	out, err := h.o.ListTasks(ctx, stevedore.ListTasksInput{
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

func describeContainerInstances(ctx context.Context, h *Handler, body []byte) (any, error) {
	var in struct {
		Cluster            string   `json:"cluster"`
		ContainerInstances []string `json:"containerInstances"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if len(in.ContainerInstances) == 0 {
		return nil, param("containerInstances must name 1 to 100 container instances.")
	}
	out, err := h.o.DescribeContainerInstances(ctx, stevedore.DescribeContainerInstancesInput{Cluster: in.Cluster, ContainerInstances: in.ContainerInstances})
	if err != nil {
		return nil, err
	}
	instances := []wireContainerInstance{}
	for _, i := range out.ContainerInstances {
		instances = append(instances, h.wireContainerInstance(i))
	}
	return map[string]any{"containerInstances": instances, "failures": wireFailures(out.Failures)}, nil
}

func listContainerInstances(ctx context.Context, h *Handler, body []byte) (any, error) {
	var in struct {
		Cluster    string `json:"cluster"`
		Filter     string `json:"filter"`
		Status     string `json:"status"`
		NextToken  string `json:"nextToken"`
		MaxResults int    `json:"maxResults"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	out, err := h.o.ListContainerInstances(ctx, stevedore.ListContainerInstancesInput{
		Cluster: in.Cluster, Filter: in.Filter, Status: cluster.InstanceStatus(in.Status),
		MaxResults: in.MaxResults, NextToken: in.NextToken,
	})
	if err != nil {
		return nil, err
	}
	return listOutput("containerInstanceArns", out.ContainerInstanceArns, out.NextToken), nil
}

func deregisterContainerInstance(ctx context.Context, h *Handler, body []byte) (any, error) {
	var in struct {
		Cluster           string `json:"cluster"`
		ContainerInstance string `json:"containerInstance"`
		Force             bool   `json:"force"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.ContainerInstance == "" {
		return nil, param("containerInstance is required.")
	}
	out, err := h.o.DeregisterContainerInstance(ctx, stevedore.DeregisterContainerInstanceInput{
		Cluster: in.Cluster, ContainerInstance: in.ContainerInstance, Force: in.Force,
	})
	if err != nil {
		return nil, err
	}
	return map[string]any{"containerInstance": h.wireContainerInstance(out.ContainerInstance)}, nil
}

func updateContainerInstancesState(ctx context.Context, h *Handler, body []byte) (any, error) {
	var in struct {
		Cluster            string   `json:"cluster"`
		ContainerInstances []string `json:"containerInstances"`
		Status             string   `json:"status"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	out, err := h.o.UpdateContainerInstancesState(ctx, stevedore.UpdateContainerInstancesStateInput{
		Cluster: in.Cluster, ContainerInstances: in.ContainerInstances, Status: cluster.InstanceStatus(in.Status),
	})
	if err != nil {
		return nil, err
	}
	instances := []wireContainerInstance{}
	for _, i := range out.ContainerInstances {
		instances = append(instances, h.wireContainerInstance(i))
	}
	return map[string]any{"containerInstances": instances, "failures": wireFailures(out.Failures)}, nil
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

func putAttributes(ctx context.Context, h *Handler, body []byte) (any, error) {
	var in attributesInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	out, err := h.o.PutAttributes(ctx, stevedore.PutAttributesInput{Cluster: in.Cluster, Attributes: attributesModel(in.Attributes)})
	if err != nil {
		return nil, err
	}
	return map[string]any{"attributes": wireAttributes(out.Attributes)}, nil
}

func deleteAttributes(ctx context.Context, h *Handler, body []byte) (any, error) {
	var in attributesInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	out, err := h.o.DeleteAttributes(ctx, stevedore.DeleteAttributesInput{Cluster: in.Cluster, Attributes: attributesModel(in.Attributes)})
	if err != nil {
		return nil, err
	}
	return map[string]any{"attributes": wireAttributes(out.Attributes)}, nil
}

func listAttributes(ctx context.Context, h *Handler, body []byte) (any, error) {
	var in struct {
		Cluster        string `json:"cluster"`
		TargetType     string `json:"targetType"`
		AttributeName  string `json:"attributeName"`
		AttributeValue string `json:"attributeValue"`
		NextToken      string `json:"nextToken"`
		MaxResults     int    `json:"maxResults"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	out, err := h.o.ListAttributes(ctx, stevedore.ListAttributesInput{
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

func startTask(ctx context.Context, h *Handler, body []byte) (any, error) {
	var in struct {
		Cluster              string                     `json:"cluster"`
		TaskDefinition       string                     `json:"taskDefinition"`
		ContainerInstances   []string                   `json:"containerInstances"`
		Group                string                     `json:"group"`
		StartedBy            string                     `json:"startedBy"`
		Overrides            *task.TaskOverride         `json:"overrides"`
		NetworkConfiguration *task.NetworkConfiguration `json:"networkConfiguration"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.TaskDefinition == "" {
		return nil, param("taskDefinition is required.")
	}
	out, err := h.o.StartTask(ctx, stevedore.StartTaskInput{
		Cluster: in.Cluster, TaskDefinition: in.TaskDefinition, ContainerInstances: in.ContainerInstances,
		Group: in.Group, StartedBy: in.StartedBy, Overrides: in.Overrides, NetworkConfiguration: in.NetworkConfiguration,
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

func tagResource(ctx context.Context, h *Handler, body []byte) (any, error) {
	var in struct {
		ResourceArn string          `json:"resourceArn"`
		Tags        []stevedore.Tag `json:"tags"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if _, err := h.o.TagResource(ctx, stevedore.TagResourceInput{ResourceArn: in.ResourceArn, Tags: in.Tags}); err != nil {
		return nil, err
	}
	return map[string]any{}, nil
}

func untagResource(ctx context.Context, h *Handler, body []byte) (any, error) {
	var in struct {
		ResourceArn string   `json:"resourceArn"`
		TagKeys     []string `json:"tagKeys"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if _, err := h.o.UntagResource(ctx, stevedore.UntagResourceInput{ResourceArn: in.ResourceArn, TagKeys: in.TagKeys}); err != nil {
		return nil, err
	}
	return map[string]any{}, nil
}

func listTagsForResource(ctx context.Context, h *Handler, body []byte) (any, error) {
	var in struct {
		ResourceArn string `json:"resourceArn"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	out, err := h.o.ListTagsForResource(ctx, stevedore.ListTagsForResourceInput{ResourceArn: in.ResourceArn})
	if err != nil {
		return nil, err
	}
	tags := out.Tags
	if tags == nil {
		tags = []stevedore.Tag{}
	}
	return map[string]any{"tags": tags}, nil
}
