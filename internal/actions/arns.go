package actions

import (
	"encoding/base64"
	"slices"
	"strings"

	"github.com/stevedore-io/stevedore/api"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/task"
)

// ClusterARN is the ARN of a cluster (named by name or ARN; "" is
// DefaultCluster).
func (a *Actions) ClusterARN(name string) string {
	return a.arnPrefix + "cluster/" + clusterName(name)
}

// ServiceARN is the ARN of a service of a cluster.
func (a *Actions) ServiceARN(clusterArg, name string) string {
	return a.arnPrefix + "service/" + clusterName(clusterArg) + "/" + lastSegment(name)
}

// ContainerInstanceARN is the ARN of a container instance of a cluster.
func (a *Actions) ContainerInstanceARN(clusterArg, id string) string {
	return a.arnPrefix + "container-instance/" + clusterName(clusterArg) + "/" + lastSegment(id)
}

// TaskARN is the ARN of a task of a cluster.
func (a *Actions) TaskARN(clusterArg, id string) string {
	return a.arnPrefix + "task/" + clusterName(clusterArg) + "/" + lastSegment(id)
}

// TaskDefinitionARN is the ARN of a task definition ("family:N", or an
// ARN ending in it).
func (a *Actions) TaskDefinitionARN(ref string) string {
	return a.arnPrefix + "task-definition/" + lastSegment(ref)
}

// DescribeTask is the task as the API shows it (DescribeTasks, and
// Subscribe's task events): the stored task with its ARNs in the
// Orchestrator's form and its network attachment in ECS's.
func (a *Actions) DescribeTask(t *state.Task) *task.Task {
	out := describeTaskNetwork(t)
	clusterName := t.ClusterName()
	out.TaskARN = a.TaskARN(clusterName, t.ID())
	out.ClusterARN = a.ClusterARN(clusterName)
	if id := t.ContainerInstanceID(); id != "" {
		out.ContainerInstanceARN = a.ContainerInstanceARN(clusterName, id)
	}
	out.TaskDefinitionARN = a.TaskDefinitionARN(t.TaskDefinitionRef())
	return out
}

// describeTaskDefinition is a task definition as the API shows it.
func (a *Actions) describeTaskDefinition(td *task.TaskDefinition) *task.TaskDefinition {
	out := td.Clone()
	out.TaskDefinitionARN = a.TaskDefinitionARN(td.Ref())
	return out
}

// missing is the Failure of a Describe call for an object that does not
// exist, as ECS reports it.
func missing(arn string) api.Failure { return api.Failure{Arn: arn, Reason: "MISSING"} }

// paginate returns the page of items (sorted here) that follows token, of
// at most maxResults (1 to limit; 0 means limit), and the token of the next
// page ("" after the last).
func paginate(items []string, maxResults, limit int, token string) (page []string, next string, err error) {
	return paginateBy(items, strings.Compare, maxResults, limit, token)
}

// paginateBy is paginate with items sorted by cmp. A token names the last
// item of its page, so that a page follows it even when items were added
// or removed in between.
func paginateBy(items []string, cmp func(a, b string) int, maxResults, limit int, token string) (page []string, next string, err error) {
	if maxResults == 0 {
		maxResults = limit
	}
	if maxResults < 1 || maxResults > limit {
		return nil, "", invalid("maxResults", "must be between 1 and %d, got %d", limit, maxResults)
	}
	slices.SortFunc(items, cmp)
	start := 0
	if token != "" {
		after, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil || len(after) == 0 {
			return nil, "", invalid("nextToken", "is not a token this API gave out")
		}
		start, _ = slices.BinarySearchFunc(items, string(after), cmp)
		if start < len(items) && cmp(items[start], string(after)) == 0 {
			start++
		}
	}
	end := min(start+maxResults, len(items))
	page = items[start:end]
	if end < len(items) {
		next = base64.RawURLEncoding.EncodeToString([]byte(page[len(page)-1]))
	}
	return page, next, nil
}
