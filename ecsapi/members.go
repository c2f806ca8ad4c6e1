package ecsapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/stevedore-io/stevedore"
	"github.com/stevedore-io/stevedore/task"
)

// ECS members that an action's input struct does not hold. A request
// member is either honoured (a field of the input struct), ignored (it
// changes nothing on one host: accepted and documented), refused unless
// it holds its default value (Stevedore cannot do what it asks), or
// unknown, which ECS's protocol refuses as a SerializationException. The
// SDKs send only the members they know, so refusing the unknown ones
// breaks no client; silently dropping a member would.
type members struct {
	// ignored are accepted whatever their value.
	ignored []string
	// refused are refused with InvalidParameterException unless absent,
	// null, false, "", [] or {}, or one of the accepted values (compact
	// JSON).
	refused map[string]refusal
}

// refusal is why a member is refused, and the values that are accepted
// because they ask for nothing Stevedore lacks.
type refusal struct {
	reason string
	accept []string
}

// Reasons shared by several actions.
var (
	noExec           = refusal{reason: "ECS Exec is not provided by Stevedore"}
	noManagedTags    = refusal{reason: "Stevedore adds no ECS managed tags"}
	noPropagate      = refusal{reason: "Stevedore does not propagate tags to tasks", accept: []string{`"NONE"`}}
	noPlatform       = refusal{reason: "platform versions are Fargate's, and Stevedore has no Fargate capacity", accept: []string{`"LATEST"`}}
	noVolumeConfigs  = refusal{reason: "Stevedore has no EBS volumes to configure at launch"}
	noServiceConnect = refusal{reason: "Service Connect is not provided by Stevedore (WithServiceDiscovery answers services by name)", accept: []string{`{"enabled":false}`}}
	noRegistries     = refusal{reason: "Cloud Map is not provided by Stevedore (WithServiceDiscovery answers every service by name)"}
	noLattice        = refusal{reason: "VPC Lattice is not provided by Stevedore"}
	noGateways       = refusal{reason: "ECS gateways are not provided by Stevedore"}
	noMonitoring     = refusal{reason: "CloudWatch monitoring is not provided by Stevedore"}
	noController     = refusal{reason: "only the ECS deployment controller is provided by Stevedore", accept: []string{`{"type":"ECS"}`}}
)

// serviceMembers are the members CreateService and UpdateService share
// that Stevedore does not hold.
func serviceMembers(extra map[string]refusal) members {
	m := members{
		ignored: []string{"clientToken", "role", "loadBalancers[].advancedConfiguration.roleArn"},
		refused: map[string]refusal{
			"platformVersion": noPlatform, "deploymentController": noController, "enableECSManagedTags": noManagedTags,
			"propagateTags": noPropagate, "enableExecuteCommand": noExec, "serviceRegistries": noRegistries,
			"serviceConnectConfiguration": noServiceConnect, "volumeConfigurations": noVolumeConfigs,
			"vpcLatticeConfigurations": noLattice, "gatewayConnectors": noGateways, "monitoring": noMonitoring,
			"deploymentConfiguration.lifecycleHooks":                                  {reason: "deployment lifecycle hooks are not provided by Stevedore"},
			"deploymentConfiguration.earlySuccessCriteria":                            {reason: "early success criteria are not provided by Stevedore"},
			"deploymentConfiguration.deploymentCircuitBreaker.resetOnHealthyTask":     {reason: "the circuit breaker counts failures as ECS's default does, without reset"},
			"deploymentConfiguration.deploymentCircuitBreaker.thresholdConfiguration": {reason: "the circuit breaker's threshold is ECS's default (half the desired count, 3 to 200)"},
			"loadBalancers[].loadBalancerName":                                        {reason: "Classic Load Balancers are not provided by Stevedore: name a target group of WithTargetGroups in targetGroupArn"},
		},
	}
	for k, r := range extra {
		m.refused[k] = r
	}
	return m
}

// unhonoured are the members of each action that its input struct does
// not hold, by action.
var unhonoured = map[string]members{
	"CreateCluster": {refused: map[string]refusal{
		"settings": {reason: "CloudWatch Container Insights is not provided by Stevedore",
			accept: []string{`[{"name":"containerInsights","value":"disabled"}]`}},
		"configuration":          {reason: "ECS Exec and managed storage are not provided by Stevedore"},
		"serviceConnectDefaults": {reason: "Service Connect is not provided by Stevedore"},
	}},
	"DescribeTaskDefinition":    {ignored: []string{"include"}},
	"DescribeCapacityProviders": {ignored: []string{"include"}},
	"CreateCapacityProvider": {refused: map[string]refusal{
		"autoScalingGroupProvider": {reason: "Auto Scaling groups are not provided by Stevedore: give a cluster and a managedInstancesProvider, whose instances the program registers"},
		"tags":                     {reason: "capacity providers carry no tags in Stevedore"},
	}},
	"DescribeTasks":              {ignored: []string{"include"}},
	"DescribeContainerInstances": {ignored: []string{"include"}},
	"CreateService":              serviceMembers(nil),
	"UpdateService": serviceMembers(map[string]refusal{
		"loadBalancers":            {reason: "UpdateService cannot change a service's load balancers in Stevedore: create a new service"},
		"capacityProviderStrategy": {reason: "UpdateService cannot change a service's capacity provider strategy in Stevedore: create a new service"},
	}),
	"ListServices": {refused: map[string]refusal{
		"resourceManagementType": {reason: "Stevedore's services are all customer-managed", accept: []string{`"CUSTOMER"`}},
	}},
	"ListTasks": {refused: map[string]refusal{"daemonName": {reason: "ECS daemons are not provided by Stevedore"}}},
	"RunTask": {ignored: []string{"clientToken", "referenceId"}, refused: withOverrides(map[string]refusal{
		"enableECSManagedTags": noManagedTags, "enableExecuteCommand": noExec, "platformVersion": noPlatform,
		"propagateTags": noPropagate, "volumeConfigurations": noVolumeConfigs,
	})},
	"StartTask": {ignored: []string{"referenceId"}, refused: withOverrides(map[string]refusal{
		"enableECSManagedTags": noManagedTags, "enableExecuteCommand": noExec, "propagateTags": noPropagate,
		"volumeConfigurations": noVolumeConfigs, "tags": {reason: "StartTask does not tag tasks in Stevedore: tag them with TagResource"},
	})},
}

// withOverrides adds the members of RunTask's and StartTask's overrides
// that Stevedore cannot honour to refused.
func withOverrides(refused map[string]refusal) map[string]refusal {
	refused["overrides.inferenceAcceleratorOverrides"] = refusal{reason: "Elastic Inference accelerators are not provided by Stevedore"}
	refused["overrides.ephemeralStorage"] = refusal{reason: "Fargate ephemeral storage is not provided by Stevedore"}
	refused["overrides.containerOverrides[].environmentFiles"] = refusal{reason: "environment files live in S3, which Stevedore does not read"}
	refused["overrides.containerOverrides[].resourceRequirements"] = refusal{reason: "GPUs and inference accelerators are not provided by Stevedore"}
	return refused
}

// isDefault reports whether raw (compact JSON) asks for nothing: null,
// false, "", [], {} or one of accept.
func isDefault(raw []byte, accept []string) bool {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return false
	}
	s := b.String()
	switch s {
	case "null", "false", `""`, "[]", "{}":
		return true
	}
	return slices.Contains(accept, s)
}

// decode reads the request of action into v. A member Stevedore cannot
// honour with the value given is an InvalidParameterException naming it;
// a member that is not ECS's (nor one v holds) is a
// SerializationException naming it.
func decode(action string, body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var top map[string]any
	if err := dec.Decode(&top); err != nil {
		return clientError("SerializationException", "Cannot parse the request: "+err.Error())
	}
	m := unhonoured[action]
	for _, path := range slices.Sorted(maps.Keys(m.refused)) {
		r := m.refused[path]
		err := visit(top, "", strings.Split(path, "."), func(at string, value any) error {
			if js, err := json.Marshal(value); err != nil || !isDefault(js, r.accept) {
				return param(fmt.Sprintf("%s: %s.", at, r.reason))
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	for _, path := range m.ignored {
		_ = visit(top, "", strings.Split(path, "."), func(string, any) error { return nil })
	}
	known, err := json.Marshal(top)
	if err != nil {
		return clientError("SerializationException", "Cannot parse the request: "+err.Error())
	}
	strict := json.NewDecoder(bytes.NewReader(known))
	strict.DisallowUnknownFields()
	if err := strict.Decode(v); err != nil {
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return clientError("SerializationException", fmt.Sprintf("Unknown member %s in the request of %s: it is not an ECS member, or one Stevedore does not support.", name, action))
		}
		return clientError("SerializationException", "Cannot parse the request: "+err.Error())
	}
	return nil
}

// visit calls fn with each member at path (members separated by dots, a
// list's items by "[]" after the list's name, as in
// "overrides.containerOverrides[].environmentFiles") in node, and deletes
// it, unless fn fails. at is where node is.
func visit(node map[string]any, at string, path []string, fn func(at string, value any) error) error {
	name, each := strings.CutSuffix(path[0], "[]")
	value, ok := node[name]
	if !ok {
		return nil
	}
	here := name
	if at != "" {
		here = at + "." + name
	}
	if len(path) == 1 {
		if err := fn(here, value); err != nil {
			return err
		}
		delete(node, name)
		return nil
	}
	var items []any
	if list, ok := value.([]any); each && ok {
		items = list
	} else if !each {
		items = []any{value}
	}
	for i, item := range items {
		child, ok := item.(map[string]any)
		if !ok {
			continue
		}
		where := here
		if each {
			where = fmt.Sprintf("%s[%d]", here, i)
		}
		if err := visit(child, where, path[1:], fn); err != nil {
			return err
		}
	}
	return nil
}

// checkRequired refuses, as ECS does, a request that leaves out a member
// that in's struct (a pointer to a struct) tags `ecs:"required"`.
func checkRequired(in any) error {
	v := reflect.ValueOf(in).Elem()
	for _, f := range reflect.VisibleFields(v.Type()) {
		if f.Tag.Get("ecs") == "required" && v.FieldByIndex(f.Index).IsZero() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			return param(name + " is required.")
		}
	}
	return nil
}

// checkLaunchType refuses a launch type Stevedore has no capacity for:
// tasks run on registered container instances, which is EC2. As in ECS,
// a launch type and a capacity provider strategy exclude each other. In
// ECS launchType EC2 also sets the cluster's default capacity provider
// strategy aside; Stevedore cannot (its launches have no launch type), so
// it refuses launchType EC2 in a cluster that has one.
func (h *Handler) checkLaunchType(ctx context.Context, clusterArg, launchType string, providers []wireProviderStrategy) error {
	switch launchType {
	case "":
		return nil
	case "EC2":
	case "FARGATE", "EXTERNAL":
		return param("launchType: " + launchType + " capacity is not available in Stevedore: tasks run on registered container instances (launch type EC2).")
	default:
		return param(fmt.Sprintf("launchType: %q is not EC2, FARGATE or EXTERNAL.", launchType))
	}
	if len(providers) > 0 {
		return param("launchType: specifying both a launchType and a capacityProviderStrategy is not supported.")
	}
	out, err := h.o.DescribeClusters(ctx, &stevedore.DescribeClustersInput{Clusters: []string{clusterArg}})
	if err != nil {
		return err
	}
	if len(out.Clusters) > 0 && len(out.Clusters[0].DefaultCapacityProviderStrategy) > 0 {
		return param("launchType: EC2 cannot set cluster " + out.Clusters[0].Name + "'s default capacity provider strategy aside in Stevedore: leave launchType out, or give a capacityProviderStrategy.")
	}
	return nil
}

// noneOfLaunchType reports whether a List filter on launchType matches
// nothing: every task and service of Stevedore's runs on EC2 capacity.
func noneOfLaunchType(launchType string) (bool, error) {
	switch launchType {
	case "", "EC2":
		return false, nil
	case "FARGATE", "EXTERNAL":
		return true, nil
	default:
		return false, param(fmt.Sprintf("launchType: %q is not EC2, FARGATE or EXTERNAL.", launchType))
	}
}

// wireNetworkConfiguration is ECS's NetworkConfiguration.
type wireNetworkConfiguration struct {
	AwsvpcConfiguration *wireAwsvpcConfiguration `json:"awsvpcConfiguration"`
}

// wireAwsvpcConfiguration is ECS's AwsVpcConfiguration. Subnets are
// accepted and change nothing: a task's subnet is the one of the
// instance it is placed on.
type wireAwsvpcConfiguration struct {
	Subnets        []string `json:"subnets"`
	SecurityGroups []string `json:"securityGroups"`
	AssignPublicIP string   `json:"assignPublicIp"`
}

// model is the configuration in Stevedore's terms; assignPublicIp ENABLED
// is refused, as Stevedore has no public addresses to give.
func (n *wireNetworkConfiguration) model() (*task.NetworkConfiguration, error) {
	if n == nil {
		return nil, nil
	}
	out := &task.NetworkConfiguration{}
	if a := n.AwsvpcConfiguration; a != nil {
		switch a.AssignPublicIP {
		case "", "DISABLED":
		case "ENABLED":
			return nil, param("networkConfiguration.awsvpcConfiguration.assignPublicIp: ENABLED is not available: Stevedore gives tasks no public IP address.")
		default:
			return nil, param(fmt.Sprintf("networkConfiguration.awsvpcConfiguration.assignPublicIp: %q is not ENABLED or DISABLED.", a.AssignPublicIP))
		}
		out.AwsvpcConfiguration = &task.AwsvpcConfiguration{SecurityGroups: a.SecurityGroups}
	}
	return out, nil
}
