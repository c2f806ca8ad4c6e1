package actions

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/stevedore-io/stevedore/api"
	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/store"
)

// PutAttributes sets attributes of container instances. A request with an
// invalid attribute or an unknown target changes nothing.
func (a *Actions) PutAttributes(ctx context.Context, in api.PutAttributesInput) (*api.PutAttributesOutput, error) {
	out, err := a.changeAttributes(ctx, in.Cluster, in.Attributes, true)
	if err != nil {
		return nil, err
	}
	return &api.PutAttributesOutput{Attributes: out}, nil
}

// DeleteAttributes removes custom attributes of container instances; the
// ecs.* attributes the instance registered with cannot be removed.
func (a *Actions) DeleteAttributes(ctx context.Context, in api.DeleteAttributesInput) (*api.DeleteAttributesOutput, error) {
	out, err := a.changeAttributes(ctx, in.Cluster, in.Attributes, false)
	if err != nil {
		return nil, err
	}
	return &api.DeleteAttributesOutput{Attributes: out}, nil
}

func (a *Actions) changeAttributes(ctx context.Context, clusterArg string, attrs []api.Attribute, put bool) ([]api.Attribute, error) {
	clusterName := clusterName(clusterArg)
	if len(attrs) == 0 || len(attrs) > api.MaxPutAttributes {
		return nil, invalid("attributes", "must name 1 to %d attributes, got %d", api.MaxPutAttributes, len(attrs))
	}
	for i, attr := range attrs {
		switch {
		case attr.TargetType != "" && attr.TargetType != api.TargetTypeContainerInstance:
			return nil, invalid(fmt.Sprintf("attributes[%d].targetType", i), "must be %s, got %q", api.TargetTypeContainerInstance, attr.TargetType)
		case attr.TargetID == "":
			return nil, invalid(fmt.Sprintf("attributes[%d].targetId", i), "is required")
		case !put && strings.HasPrefix(attr.Name, "ecs."):
			return nil, invalid(fmt.Sprintf("attributes[%d].name", i), "%s is set by the instance and cannot be deleted", attr.Name)
		}
	}
	var out []api.Attribute
	err := a.store.Update(ctx, func(tx store.Tx) error {
		out = nil
		if _, err := a.getCluster(tx, clusterName); err != nil {
			return err
		}
		changed := map[string]*state.Instance{}
		for i, attr := range attrs {
			id := lastSegment(attr.TargetID)
			next := changed[id]
			if next == nil {
				inst, err := a.getInstance(tx, clusterName, id)
				if errors.Is(err, api.ErrNotFound) {
					return invalid(fmt.Sprintf("attributes[%d].targetId", i), "no container instance %q in cluster %q", attr.TargetID, clusterName)
				}
				if err != nil {
					return err
				}
				next = inst.Copy()
				changed[id] = next
			}
			if put {
				next.SetAttribute(attr.Name, attr.Value)
			} else {
				delete(next.Attributes, attr.Name)
			}
			out = append(out, api.Attribute{Name: attr.Name, Value: attr.Value, TargetType: api.TargetTypeContainerInstance,
				TargetID: a.ContainerInstanceARN(clusterName, id)})
		}
		for _, id := range slices.Sorted(maps.Keys(changed)) {
			if err := changed[id].Validate(); err != nil {
				return fmt.Errorf("%w: %w", api.ErrInvalid, err)
			}
			if err := tx.Update(changed[id]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ListAttributes lists the attributes of the instances of a cluster that
// are not INACTIVE.
func (a *Actions) ListAttributes(ctx context.Context, in api.ListAttributesInput) (*api.ListAttributesOutput, error) {
	clusterName := clusterName(in.Cluster)
	if in.TargetType != "" && in.TargetType != api.TargetTypeContainerInstance {
		return nil, invalid("targetType", "must be %s, got %q", api.TargetTypeContainerInstance, in.TargetType)
	}
	if in.AttributeValue != "" && in.AttributeName == "" {
		return nil, invalid("attributeValue", "needs attributeName")
	}
	// Keys "instance\x00name" sort by instance, then name, and page as
	// strings do.
	found := map[string]api.Attribute{}
	err := a.store.View(ctx, func(tx store.ReadTx) error {
		clear(found)
		if _, err := a.getCluster(tx, clusterName); err != nil {
			return err
		}
		all, err := store.List[*state.Instance](tx, state.KindInstances)
		if err != nil {
			return err
		}
		for _, inst := range all {
			if inst.Cluster != clusterName || inst.Status == cluster.StatusInactive {
				continue
			}
			for name, value := range inst.Attributes {
				if (in.AttributeName == "" || name == in.AttributeName) && (in.AttributeValue == "" || value == in.AttributeValue) {
					found[inst.ID+"\x00"+name] = api.Attribute{Name: name, Value: value, TargetType: api.TargetTypeContainerInstance,
						TargetID: a.ContainerInstanceARN(clusterName, inst.ID)}
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	page, next, err := paginate(slices.Collect(maps.Keys(found)), in.MaxResults, 100, in.NextToken)
	if err != nil {
		return nil, err
	}
	out := &api.ListAttributesOutput{NextToken: next}
	for _, k := range page {
		out.Attributes = append(out.Attributes, found[k])
	}
	return out, nil
}
