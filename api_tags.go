package stevedore

import (
	"context"

	"github.com/stevedore-io/stevedore/api"
)

// Tag is api.Tag.
type Tag = api.Tag

// MaxTags is how many tags a resource carries at most, as in ECS.
const MaxTags = api.MaxTags

// TagResourceInput adds tags to a resource, as ECS TagResource.
type TagResourceInput = api.TagResourceInput

// TagResourceOutput is empty, as ECS's.
type TagResourceOutput = api.TagResourceOutput

// UntagResourceInput removes tags from a resource, as ECS UntagResource.
type UntagResourceInput = api.UntagResourceInput

// UntagResourceOutput is empty, as ECS's.
type UntagResourceOutput = api.UntagResourceOutput

// ListTagsForResourceInput names a resource, as ECS ListTagsForResource.
type ListTagsForResourceInput = api.ListTagsForResourceInput

// ListTagsForResourceOutput is the resource's tags.
type ListTagsForResourceOutput = api.ListTagsForResourceOutput

// TagResource adds tags to a resource. Keys are 1-128 characters, values
// at most 256, the "aws:" prefix is reserved, and a resource carries at
// most MaxTags; a request that breaks a rule changes nothing.
func (o *Orchestrator) TagResource(ctx context.Context, in *TagResourceInput) (*TagResourceOutput, error) {
	return o.actions.TagResource(ctx, value(in))
}

// UntagResource removes tags from a resource by key; absent keys are
// ignored.
func (o *Orchestrator) UntagResource(ctx context.Context, in *UntagResourceInput) (*UntagResourceOutput, error) {
	return o.actions.UntagResource(ctx, value(in))
}

// ListTagsForResource lists a resource's tags.
func (o *Orchestrator) ListTagsForResource(ctx context.Context, in *ListTagsForResourceInput) (*ListTagsForResourceOutput, error) {
	return o.actions.ListTagsForResource(ctx, value(in))
}
