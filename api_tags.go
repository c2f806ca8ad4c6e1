package stevedore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/stevedore-io/stevedore/store"
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

// TagResource adds tags to a resource. Keys are 1-128 characters, values
// at most 256, the "aws:" prefix is reserved, and a resource carries at
// most MaxTags; a request that breaks a rule changes nothing.
func (o *Orchestrator) TagResource(ctx context.Context, in TagResourceInput) (*TagResourceOutput, error) {
	for i, t := range in.Tags {
		if err := validTag(fmt.Sprintf("tags[%d]", i), t); err != nil {
			return nil, err
		}
	}
	err := o.changeTags(ctx, in.ResourceArn, func(tags []Tag) ([]Tag, error) {
		for _, t := range in.Tags {
			if i := slices.IndexFunc(tags, func(x Tag) bool { return x.Key == t.Key }); i >= 0 {
				tags[i] = t
			} else {
				tags = append(tags, t)
			}
		}
		if len(tags) > MaxTags {
			return nil, invalid("tags", "a resource has at most %d tags, this one would have %d", MaxTags, len(tags))
		}
		return tags, nil
	})
	if err != nil {
		return nil, err
	}
	return &TagResourceOutput{}, nil
}

// UntagResource removes tags from a resource by key; absent keys are
// ignored.
func (o *Orchestrator) UntagResource(ctx context.Context, in UntagResourceInput) (*UntagResourceOutput, error) {
	err := o.changeTags(ctx, in.ResourceArn, func(tags []Tag) ([]Tag, error) {
		return slices.DeleteFunc(tags, func(t Tag) bool { return slices.Contains(in.TagKeys, t.Key) }), nil
	})
	if err != nil {
		return nil, err
	}
	return &UntagResourceOutput{}, nil
}

// ListTagsForResource lists a resource's tags.
func (o *Orchestrator) ListTagsForResource(ctx context.Context, in ListTagsForResourceInput) (*ListTagsForResourceOutput, error) {
	var out []Tag
	err := o.store.View(ctx, func(tx store.ReadTx) error {
		var err error
		out, err = o.tagsOf(tx, in.ResourceArn)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &ListTagsForResourceOutput{Tags: out}, nil
}

func validTag(field string, t Tag) error {
	switch {
	case t.Key == "" || utf8.RuneCountInString(t.Key) > 128:
		return invalid(field+".key", "must be 1-128 characters long")
	case utf8.RuneCountInString(t.Value) > 256:
		return invalid(field+".value", "must be at most 256 characters long")
	case strings.HasPrefix(strings.ToLower(t.Key), "aws:"):
		return invalid(field+".key", "the aws: prefix is reserved")
	}
	return nil
}

// parseResourceARN splits what an ECS ARN names: its type ("cluster", "service",
// ...) and the path after it.
func parseResourceARN(arn string) (typ string, path []string, err error) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "ecs" {
		return "", nil, invalid("resourceArn", "is not an ECS ARN: %q", arn)
	}
	typ, rest, _ := strings.Cut(parts[5], "/")
	return typ, strings.Split(rest, "/"), nil
}

// tagsOf reads the tags of the resource arn names.
func (o *Orchestrator) tagsOf(tx store.ReadTx, arn string) ([]Tag, error) {
	var tags []Tag
	err := o.withResource(tx, arn, func(p *[]Tag) error {
		tags = slices.Clone(*p)
		return nil
	}, nil)
	return tags, err
}

// changeTags applies change to the tags of the resource arn names.
func (o *Orchestrator) changeTags(ctx context.Context, arn string, change func([]Tag) ([]Tag, error)) error {
	return o.store.Update(ctx, func(tx store.Tx) error {
		return o.withResource(tx, arn, func(p *[]Tag) error {
			next, err := change(slices.Clone(*p))
			if err != nil {
				return err
			}
			*p = next
			return nil
		}, tx)
	})
}

// withResource finds the resource arn names, calls fn with its tags and,
// when tx is not nil, writes the resource back.
func (o *Orchestrator) withResource(rtx store.ReadTx, arn string, fn func(*[]Tag) error, tx store.Tx) error {
	typ, path, err := parseResourceARN(arn)
	if err != nil {
		return err
	}
	write := func(obj store.Object) error {
		if tx == nil {
			return nil
		}
		return tx.Update(obj)
	}
	switch {
	case typ == "cluster" && len(path) == 1:
		c, err := o.getCluster(rtx, path[0])
		if err != nil {
			return err
		}
		next := c.Copy()
		if err := fn(&next.Tags); err != nil {
			return err
		}
		return write(next)
	case typ == "container-instance" && len(path) == 2:
		inst, err := o.getInstance(rtx, path[0], path[1])
		if err != nil {
			return err
		}
		next := inst.Copy()
		if err := fn(&next.Tags); err != nil {
			return err
		}
		return write(next)
	case typ == "service" && len(path) == 2:
		s, err := o.getService(rtx, path[0], path[1])
		if err != nil {
			return err
		}
		next := s.Copy()
		if err := fn(&next.Tags); err != nil {
			return err
		}
		return write(next)
	case typ == "task" && len(path) == 2:
		t, err := o.getTask(rtx, path[0], path[1])
		if err != nil {
			return err
		}
		next := t.Copy()
		if err := fn(&next.Tags); err != nil {
			return err
		}
		return write(next)
	case typ == "task-definition" && len(path) == 1:
		d, err := o.getTaskDefinition(rtx, path[0])
		if err != nil {
			return err
		}
		next := d.Copy()
		if err := fn(&next.Tags); err != nil {
			return err
		}
		return write(next)
	default:
		return invalid("resourceArn", "names no cluster, container instance, service, task or task definition: %q", arn)
	}
}

// validTags checks the tags of a new resource.
func validTags(tags []Tag) error {
	if len(tags) > MaxTags {
		return invalid("tags", "a resource has at most %d tags, got %d", MaxTags, len(tags))
	}
	for i, t := range tags {
		if err := validTag(fmt.Sprintf("tags[%d]", i), t); err != nil {
			return err
		}
	}
	return nil
}
