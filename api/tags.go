package api

import (
	"github.com/stevedore-io/stevedore/task"
)

// Tag is a key and value attached to a cluster, container instance,
// service, task or task definition, as ECS's tags.
type Tag = task.Tag

// MaxTags is how many tags a resource carries at most, as in ECS.
const MaxTags = 50

// TagResourceInput adds tags to a resource, as ECS TagResource.
type TagResourceInput struct {
	// ResourceArn is the ARN of a cluster, container instance, service,
	// task or task definition.
	ResourceArn string
	// Tags are added; a tag whose key the resource has replaces its value.
	Tags []Tag
}

// TagResourceOutput is empty, as ECS's.
type TagResourceOutput struct{}

// UntagResourceInput removes tags from a resource, as ECS UntagResource.
type UntagResourceInput struct {
	ResourceArn string
	TagKeys     []string
}

// UntagResourceOutput is empty, as ECS's.
type UntagResourceOutput struct{}

// ListTagsForResourceInput names a resource, as ECS ListTagsForResource.
type ListTagsForResourceInput struct {
	ResourceArn string
}

// ListTagsForResourceOutput is the resource's tags.
type ListTagsForResourceOutput struct {
	Tags []Tag
}
