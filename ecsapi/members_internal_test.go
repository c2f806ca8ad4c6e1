package ecsapi

import (
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/ecs/schemas"
	smithy "github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore"
)

// requestSchemas are the SDK's models of the requests of the actions
// served (RegisterTaskDefinition's members are package task's).
var requestSchemas = map[string]*smithy.Schema{
	"CreateCapacityProvider":        schemas.CreateCapacityProviderRequest,
	"CreateCluster":                 schemas.CreateClusterRequest,
	"CreateService":                 schemas.CreateServiceRequest,
	"DeleteAttributes":              schemas.DeleteAttributesRequest,
	"DeleteCapacityProvider":        schemas.DeleteCapacityProviderRequest,
	"DeleteCluster":                 schemas.DeleteClusterRequest,
	"DeleteService":                 schemas.DeleteServiceRequest,
	"DeregisterContainerInstance":   schemas.DeregisterContainerInstanceRequest,
	"DeregisterTaskDefinition":      schemas.DeregisterTaskDefinitionRequest,
	"DescribeCapacityProviders":     schemas.DescribeCapacityProvidersRequest,
	"DescribeClusters":              schemas.DescribeClustersRequest,
	"DescribeContainerInstances":    schemas.DescribeContainerInstancesRequest,
	"DescribeServices":              schemas.DescribeServicesRequest,
	"DescribeTaskDefinition":        schemas.DescribeTaskDefinitionRequest,
	"DescribeTasks":                 schemas.DescribeTasksRequest,
	"ListAttributes":                schemas.ListAttributesRequest,
	"ListClusters":                  schemas.ListClustersRequest,
	"ListContainerInstances":        schemas.ListContainerInstancesRequest,
	"ListServices":                  schemas.ListServicesRequest,
	"ListTagsForResource":           schemas.ListTagsForResourceRequest,
	"ListTaskDefinitionFamilies":    schemas.ListTaskDefinitionFamiliesRequest,
	"ListTaskDefinitions":           schemas.ListTaskDefinitionsRequest,
	"ListTasks":                     schemas.ListTasksRequest,
	"PutAttributes":                 schemas.PutAttributesRequest,
	"PutClusterCapacityProviders":   schemas.PutClusterCapacityProvidersRequest,
	"RunTask":                       schemas.RunTaskRequest,
	"StartTask":                     schemas.StartTaskRequest,
	"StopTask":                      schemas.StopTaskRequest,
	"TagResource":                   schemas.TagResourceRequest,
	"UntagResource":                 schemas.UntagResourceRequest,
	"UpdateContainerInstancesState": schemas.UpdateContainerInstancesStateRequest,
	"UpdateService":                 schemas.UpdateServiceRequest,
}

// memberPaths are the paths of every member of s, at any depth, with a
// body that sets that member alone to null (its ancestors as objects and
// one-item lists).
func memberPaths(s *smithy.Schema, depth int) map[string]any {
	out := map[string]any{}
	if depth == 0 {
		return out
	}
	for name, m := range s.Members() {
		out[name] = map[string]any{name: nil}
		target := m
		list := false
		if m.Type() == smithy.ShapeTypeList && m.ListMember() != nil {
			target, list = m.ListMember(), true
		}
		if target.Type() != smithy.ShapeTypeStructure {
			continue
		}
		for path, body := range memberPaths(target, depth-1) {
			var v any = body
			sep := "."
			if list {
				v, sep = []any{body}, "[]."
			}
			out[name+sep+path] = map[string]any{name: v}
		}
	}
	return out
}

// Every member of every request the SDK's model has, at any depth, is
// honoured, accepted or refused by name: none is taken for a member that
// is not ECS's (a SerializationException), so a request of an SDK or the
// CLI never meets one, and none is dropped silently (decode is strict).
func TestEveryECSMemberIsHonouredAcceptedOrRefused(t *testing.T) {
	o, err := stevedore.New()
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, o.Close()) })
	h, err := New(o, WithCredentials(Credentials{AccessKeyID: "AKIDTEST", SecretAccessKey: "secret"}))
	require.NoError(t, err)
	for action := range actions {
		if action == "RegisterTaskDefinition" {
			continue
		}
		assert.Contains(t, requestSchemas, action, "the test knows every action served")
	}
	for action, schema := range requestSchemas {
		paths := memberPaths(schema, 8)
		names := make([]string, 0, len(paths))
		for p := range paths {
			names = append(names, p)
		}
		sort.Strings(names)
		for _, path := range names {
			body, err := json.Marshal(paths[path])
			require.NoError(t, err)
			_, err = actions[action](t.Context(), h, action, body)
			var e *Error
			if errors.As(err, &e) && e.Type == "SerializationException" {
				t.Errorf("%s: ECS member %s is taken for an unknown one: %s", action, path, e.Message)
			}
			if err != nil && strings.Contains(err.Error(), "Internal error") {
				t.Errorf("%s %s: %v", action, body, err)
			}
		}
	}
}
