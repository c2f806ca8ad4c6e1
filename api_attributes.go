package stevedore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/store"
)

// TargetTypeContainerInstance is the only target type of ECS's attributes.
const TargetTypeContainerInstance = "container-instance"

// MaxPutAttributes is the most attributes one PutAttributes or
// DeleteAttributes names.
const MaxPutAttributes = 10

// Attribute is an attribute of a container instance, as ECS's Attribute:
// placement constraints and ListContainerInstances' filter match them
// ("attribute:stack == prod").
type Attribute struct {
	Name  string
	Value string
	// TargetType is TargetTypeContainerInstance (the default when empty).
	TargetType string
	// TargetID is the container instance's ID or ARN.
	TargetID string
}

// PutAttributesInput sets attributes of a cluster's instances, as ECS
// PutAttributes.
type PutAttributesInput struct {
	// Cluster is a name or ARN; empty means DefaultCluster.
	Cluster string
	// Attributes are 1 to MaxPutAttributes attributes, each with its
	// TargetID.
	Attributes []Attribute
}

// PutAttributesOutput is the attributes set, their targets as ARNs.
type PutAttributesOutput struct {
	Attributes []Attribute
}

// PutAttributes sets attributes of container instances. A request with an
// invalid attribute or an unknown target changes nothing.
func (o *Orchestrator) PutAttributes(ctx context.Context, in PutAttributesInput) (*PutAttributesOutput, error) {
	out, err := o.changeAttributes(ctx, in.Cluster, in.Attributes, true)
	if err != nil {
		return nil, err
	}
	return &PutAttributesOutput{Attributes: out}, nil
}

// DeleteAttributesInput removes attributes of a cluster's instances, as
// ECS DeleteAttributes.
type DeleteAttributesInput struct {
	// Cluster is a name or ARN; empty means DefaultCluster.
	Cluster string
	// Attributes are 1 to MaxPutAttributes names, each with its TargetID
	// (values are ignored).
	Attributes []Attribute
}

// DeleteAttributesOutput is the attributes removed.
type DeleteAttributesOutput struct {
	Attributes []Attribute
}

// DeleteAttributes removes custom attributes of container instances; the
// ecs.* attributes the instance registered with cannot be removed.
func (o *Orchestrator) DeleteAttributes(ctx context.Context, in DeleteAttributesInput) (*DeleteAttributesOutput, error) {
	out, err := o.changeAttributes(ctx, in.Cluster, in.Attributes, false)
	if err != nil {
		return nil, err
	}
	return &DeleteAttributesOutput{Attributes: out}, nil
}

func (o *Orchestrator) changeAttributes(ctx context.Context, clusterArg string, attrs []Attribute, put bool) ([]Attribute, error) {
	clusterName := clusterName(clusterArg)
	if len(attrs) == 0 || len(attrs) > MaxPutAttributes {
		return nil, invalid("attributes", "must name 1 to %d attributes, got %d", MaxPutAttributes, len(attrs))
	}
	for i, a := range attrs {
		switch {
		case a.TargetType != "" && a.TargetType != TargetTypeContainerInstance:
			return nil, invalid(fmt.Sprintf("attributes[%d].targetType", i), "must be %s, got %q", TargetTypeContainerInstance, a.TargetType)
		case a.TargetID == "":
			return nil, invalid(fmt.Sprintf("attributes[%d].targetId", i), "is required")
		case !put && strings.HasPrefix(a.Name, "ecs."):
			return nil, invalid(fmt.Sprintf("attributes[%d].name", i), "%s is set by the instance and cannot be deleted", a.Name)
		}
	}
	var out []Attribute
	err := o.store.Update(ctx, func(tx store.Tx) error {
		out = nil
		if _, err := o.getCluster(tx, clusterName); err != nil {
			return err
		}
		changed := map[string]*state.Instance{}
		for i, a := range attrs {
			id := lastSegment(a.TargetID)
			next := changed[id]
			if next == nil {
				inst, err := o.getInstance(tx, clusterName, id)
				if errors.Is(err, ErrNotFound) {
					return invalid(fmt.Sprintf("attributes[%d].targetId", i), "no container instance %q in cluster %q", a.TargetID, clusterName)
				}
				if err != nil {
					return err
				}
				next = inst.Copy()
				changed[id] = next
			}
			if put {
				next.SetAttribute(a.Name, a.Value)
			} else {
				delete(next.Attributes, a.Name)
			}
			out = append(out, Attribute{Name: a.Name, Value: a.Value, TargetType: TargetTypeContainerInstance,
				TargetID: o.ContainerInstanceARN(clusterName, id)})
		}
		for _, id := range slices.Sorted(maps.Keys(changed)) {
			if err := changed[id].Validate(); err != nil {
				return fmt.Errorf("%w: %w", ErrInvalid, err)
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

// ListAttributesInput filters and pages the attributes of a cluster's
// instances, as ECS ListAttributes.
type ListAttributesInput struct {
	// Cluster is a name or ARN; empty means DefaultCluster.
	Cluster string
	// TargetType is TargetTypeContainerInstance (the default when empty).
	TargetType string
	// AttributeName keeps the attributes of that name; AttributeValue,
	// with it, those of that value too.
	AttributeName  string
	AttributeValue string
	// MaxResults is 1 to 100 (0 means 100).
	MaxResults int
	// NextToken continues a previous call's listing.
	NextToken string
}

// ListAttributesOutput is a page of attributes, by instance then name;
// NextToken is empty on the last page.
type ListAttributesOutput struct {
	Attributes []Attribute
	NextToken  string
}

// ListAttributes lists the attributes of the instances of a cluster that
// are not INACTIVE.
func (o *Orchestrator) ListAttributes(ctx context.Context, in ListAttributesInput) (*ListAttributesOutput, error) {
	clusterName := clusterName(in.Cluster)
	if in.TargetType != "" && in.TargetType != TargetTypeContainerInstance {
		return nil, invalid("targetType", "must be %s, got %q", TargetTypeContainerInstance, in.TargetType)
	}
	if in.AttributeValue != "" && in.AttributeName == "" {
		return nil, invalid("attributeValue", "needs attributeName")
	}
	// Keys "instance\x00name" sort by instance, then name, and page as
	// strings do.
	found := map[string]Attribute{}
	err := o.store.View(ctx, func(tx store.ReadTx) error {
		clear(found)
		if _, err := o.getCluster(tx, clusterName); err != nil {
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
					found[inst.ID+"\x00"+name] = Attribute{Name: name, Value: value, TargetType: TargetTypeContainerInstance,
						TargetID: o.ContainerInstanceARN(clusterName, inst.ID)}
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
	out := &ListAttributesOutput{NextToken: next}
	for _, k := range page {
		out.Attributes = append(out.Attributes, found[k])
	}
	return out, nil
}
