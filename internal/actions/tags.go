package actions

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/stevedore-io/stevedore/api"
	"github.com/stevedore-io/stevedore/store"
)

// TagResource adds tags to a resource. Orchestrator.TagResource documents
// it.
func (a *Actions) TagResource(ctx context.Context, in api.TagResourceInput) (*api.TagResourceOutput, error) {
	for i, t := range in.Tags {
		if err := validTag(fmt.Sprintf("tags[%d]", i), t); err != nil {
			return nil, err
		}
	}
	err := a.changeTags(ctx, in.ResourceArn, func(tags []api.Tag) ([]api.Tag, error) {
		for _, t := range in.Tags {
			if i := slices.IndexFunc(tags, func(x api.Tag) bool { return x.Key == t.Key }); i >= 0 {
				tags[i] = t
			} else {
				tags = append(tags, t)
			}
		}
		if len(tags) > api.MaxTags {
			return nil, invalid("tags", "a resource has at most %d tags, this one would have %d", api.MaxTags, len(tags))
		}
		return tags, nil
	})
	if err != nil {
		return nil, err
	}
	return &api.TagResourceOutput{}, nil
}

// UntagResource removes tags from a resource by key; absent keys are
// ignored.
func (a *Actions) UntagResource(ctx context.Context, in api.UntagResourceInput) (*api.UntagResourceOutput, error) {
	err := a.changeTags(ctx, in.ResourceArn, func(tags []api.Tag) ([]api.Tag, error) {
		return slices.DeleteFunc(tags, func(t api.Tag) bool { return slices.Contains(in.TagKeys, t.Key) }), nil
	})
	if err != nil {
		return nil, err
	}
	return &api.UntagResourceOutput{}, nil
}

// ListTagsForResource lists a resource's tags.
func (a *Actions) ListTagsForResource(ctx context.Context, in api.ListTagsForResourceInput) (*api.ListTagsForResourceOutput, error) {
	var out []api.Tag
	err := a.store.View(ctx, func(tx store.ReadTx) error {
		var err error
		out, err = a.tagsOf(tx, in.ResourceArn)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &api.ListTagsForResourceOutput{Tags: out}, nil
}

func validTag(field string, t api.Tag) error {
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
func (a *Actions) tagsOf(tx store.ReadTx, arn string) ([]api.Tag, error) {
	var tags []api.Tag
	err := a.withResource(tx, arn, func(p *[]api.Tag) error {
		tags = slices.Clone(*p)
		return nil
	}, nil)
	return tags, err
}

// changeTags applies change to the tags of the resource arn names.
func (a *Actions) changeTags(ctx context.Context, arn string, change func([]api.Tag) ([]api.Tag, error)) error {
	return a.store.Update(ctx, func(tx store.Tx) error {
		return a.withResource(tx, arn, func(p *[]api.Tag) error {
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
func (a *Actions) withResource(rtx store.ReadTx, arn string, fn func(*[]api.Tag) error, tx store.Tx) error {
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
		c, err := a.getCluster(rtx, path[0])
		if err != nil {
			return err
		}
		next := c.Copy()
		if err := fn(&next.Tags); err != nil {
			return err
		}
		return write(next)
	case typ == "container-instance" && len(path) == 2:
		inst, err := a.getInstance(rtx, path[0], path[1])
		if err != nil {
			return err
		}
		next := inst.Copy()
		if err := fn(&next.Tags); err != nil {
			return err
		}
		return write(next)
	case typ == "service" && len(path) == 2:
		s, err := a.getService(rtx, path[0], path[1])
		if err != nil {
			return err
		}
		next := s.Copy()
		if err := fn(&next.Tags); err != nil {
			return err
		}
		return write(next)
	case typ == "task" && len(path) == 2:
		t, err := a.getTask(rtx, path[0], path[1])
		if err != nil {
			return err
		}
		next := t.Copy()
		if err := fn(&next.Tags); err != nil {
			return err
		}
		return write(next)
	case typ == "task-definition" && len(path) == 1:
		d, err := a.getTaskDefinition(rtx, path[0])
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
func validTags(tags []api.Tag) error {
	if len(tags) > api.MaxTags {
		return invalid("tags", "a resource has at most %d tags, got %d", api.MaxTags, len(tags))
	}
	for i, t := range tags {
		if err := validTag(fmt.Sprintf("tags[%d]", i), t); err != nil {
			return err
		}
	}
	return nil
}
