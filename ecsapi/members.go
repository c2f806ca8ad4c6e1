package ecsapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

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
	noAZRebalancing  = refusal{reason: "availability-zone rebalancing is not provided by Stevedore", accept: []string{`"DISABLED"`}}
	noController     = refusal{reason: "only the ECS deployment controller is provided by Stevedore", accept: []string{`{"type":"ECS"}`}}
)

// serviceMembers are the members CreateService and UpdateService share
// that Stevedore does not hold.
func serviceMembers(extra map[string]refusal) members {
	m := members{
		ignored: []string{"clientToken", "role"},
		refused: map[string]refusal{
			"platformVersion": noPlatform, "deploymentController": noController, "enableECSManagedTags": noManagedTags,
			"propagateTags": noPropagate, "enableExecuteCommand": noExec, "serviceRegistries": noRegistries,
			"serviceConnectConfiguration": noServiceConnect, "volumeConfigurations": noVolumeConfigs,
			"vpcLatticeConfigurations": noLattice, "gatewayConnectors": noGateways, "monitoring": noMonitoring,
			"availabilityZoneRebalancing": noAZRebalancing,
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
		"settings":               {reason: "CloudWatch Container Insights is not provided by Stevedore"},
		"configuration":          {reason: "ECS Exec and managed storage are not provided by Stevedore"},
		"serviceConnectDefaults": {reason: "Service Connect is not provided by Stevedore"},
	}},
	"DescribeTaskDefinition":     {ignored: []string{"include"}},
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
	"RunTask": {ignored: []string{"clientToken", "referenceId"}, refused: map[string]refusal{
		"enableECSManagedTags": noManagedTags, "enableExecuteCommand": noExec, "platformVersion": noPlatform,
		"propagateTags": noPropagate, "volumeConfigurations": noVolumeConfigs,
	}},
	"StartTask": {ignored: []string{"referenceId"}, refused: map[string]refusal{
		"enableECSManagedTags": noManagedTags, "enableExecuteCommand": noExec, "propagateTags": noPropagate,
		"volumeConfigurations": noVolumeConfigs, "tags": {reason: "StartTask does not tag tasks in Stevedore: tag them with TagResource"},
	}},
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
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return clientError("SerializationException", "Cannot parse the request: "+err.Error())
	}
	m := unhonoured[action]
	for _, name := range slices.Sorted(maps.Keys(top)) {
		if r, ok := m.refused[name]; ok {
			if !isDefault(top[name], r.accept) {
				return param(fmt.Sprintf("%s: %s.", name, r.reason))
			}
			delete(top, name)
		} else if slices.Contains(m.ignored, name) {
			delete(top, name)
		}
	}
	known, err := json.Marshal(top)
	if err != nil {
		return clientError("SerializationException", "Cannot parse the request: "+err.Error())
	}
	dec := json.NewDecoder(bytes.NewReader(known))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return clientError("SerializationException", fmt.Sprintf("Unknown member %s in the request of %s: it is not an ECS member, or one Stevedore does not support.", name, action))
		}
		return clientError("SerializationException", "Cannot parse the request: "+err.Error())
	}
	return nil
}

// checkLaunchType refuses a launch type Stevedore has no capacity for:
// tasks run on registered container instances, which is EC2. As in ECS,
// a launch type and a capacity provider strategy exclude each other.
func checkLaunchType(launchType string, providers []wireProviderStrategy) error {
	switch launchType {
	case "", "EC2":
	case "FARGATE", "EXTERNAL":
		return param("launchType: " + launchType + " capacity is not available in Stevedore: tasks run on registered container instances (launch type EC2).")
	default:
		return param(fmt.Sprintf("launchType: %q is not EC2, FARGATE or EXTERNAL.", launchType))
	}
	if launchType != "" && len(providers) > 0 {
		return param("launchType: specifying both a launchType and a capacityProviderStrategy is not supported.")
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
