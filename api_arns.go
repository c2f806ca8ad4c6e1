package stevedore

import (
	"encoding/base64"
	"slices"
)

// arnPrefix begins every ARN the Orchestrator gives out: partition,
// service and region (the launcher and RegisterTaskDefinition use the same).
const arnPrefix = "arn:stevedore:ecs:local:"

// ClusterARN is the ARN of a cluster.
func (o *Orchestrator) ClusterARN(name string) string { return clusterARN(clusterName(name)) }

// ServiceARN is the ARN of a service of a cluster.
func (o *Orchestrator) ServiceARN(clusterArg, name string) string {
	return serviceARN(clusterName(clusterArg), name)
}

// ContainerInstanceARN is the ARN of a container instance of a cluster.
func (o *Orchestrator) ContainerInstanceARN(clusterArg, id string) string {
	return containerInstanceARN(clusterName(clusterArg), id)
}

// TaskARN is the ARN of a task of a cluster.
func (o *Orchestrator) TaskARN(clusterArg, id string) string {
	return taskARN(clusterName(clusterArg), id)
}

// TaskDefinitionARN is the ARN of a task definition ("family:N").
func (o *Orchestrator) TaskDefinitionARN(ref string) string {
	return arnPrefix + "task-definition/" + ref
}

func clusterARN(name string) string { return arnPrefix + "cluster/" + name }

func serviceARN(clusterName, name string) string {
	return arnPrefix + "service/" + clusterName + "/" + name
}

func containerInstanceARN(clusterName, id string) string {
	return arnPrefix + "container-instance/" + clusterName + "/" + id
}

func taskARN(clusterName, id string) string { return arnPrefix + "task/" + clusterName + "/" + id }

// missing is the Failure of a Describe call for an object that does not
// exist, as ECS reports it.
func missing(arn string) Failure { return Failure{Arn: arn, Reason: "MISSING"} }

// paginate returns the page of items (sorted here) that follows token, of
// at most maxResults (1 to limit; 0 means limit), and the token of the next
// page ("" after the last).
func paginate(items []string, maxResults, limit int, token string) (page []string, next string, err error) {
	if maxResults == 0 {
		maxResults = limit
	}
	if maxResults < 1 || maxResults > limit {
		return nil, "", invalid("maxResults", "must be between 1 and %d, got %d", limit, maxResults)
	}
	slices.Sort(items)
	start := 0
	if token != "" {
		after, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil || len(after) == 0 {
			return nil, "", invalid("nextToken", "is not a token this API gave out")
		}
		start, _ = slices.BinarySearch(items, string(after))
		if start < len(items) && items[start] == string(after) {
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
