package stevedore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/task"
)

// RegisterTaskDefinition validates td and stores it as the next revision of
// its family (family:N, N counting from 1 and never reused). The returned
// copy carries Revision, Status ACTIVE and RegisteredAt. Validation errors
// match ErrInvalid and list every problem as a *FieldError with its path
// (FieldErrors).
func (o *Orchestrator) RegisterTaskDefinition(ctx context.Context, td *task.TaskDefinition) (*task.TaskDefinition, error) {
	if err := o.checkOpen(); err != nil {
		return nil, err
	}
	if td == nil {
		return nil, invalid("taskDefinition", "is required")
	}
	if err := td.Validate(); err != nil {
		return nil, err
	}
	reg := td.Clone()
	err := o.store.Update(ctx, func(tx store.Tx) error {
		defs, err := store.List[*state.TaskDefinition](tx, state.KindTaskDefinitions)
		if err != nil {
			return err
		}
		last := 0
		for _, d := range defs {
			if d.Family == td.Family {
				last = max(last, d.Revision)
			}
		}
		reg.Revision = last + 1
		reg.Status = task.DefinitionActive
		reg.RegisteredAt = o.now()
		reg.DeregisteredAt = time.Time{}
		reg.TaskDefinitionARN = o.TaskDefinitionARN(reg.Ref())
		return tx.Create(&state.TaskDefinition{TaskDefinition: reg})
	})
	if err != nil {
		return nil, err
	}
	return o.describeTaskDefinition(reg), nil
}

// DeregisterTaskDefinitionInput names a task definition revision, as ECS
// DeregisterTaskDefinition.
type DeregisterTaskDefinitionInput struct {
	// TaskDefinition is "family:N" or its ARN.
	TaskDefinition string
}

// DeregisterTaskDefinitionOutput is the task definition, INACTIVE.
type DeregisterTaskDefinitionOutput struct {
	TaskDefinition *task.TaskDefinition
}

// DeregisterTaskDefinition marks family:N INACTIVE. Running tasks and
// services keep using it; new ones cannot.
func (o *Orchestrator) DeregisterTaskDefinition(ctx context.Context, in DeregisterTaskDefinitionInput) (*DeregisterTaskDefinitionOutput, error) {
	ref := in.TaskDefinition
	var out *task.TaskDefinition
	err := o.store.Update(ctx, func(tx store.Tx) error {
		_, rev, err := splitRef(ref)
		if err != nil {
			return err
		}
		if rev == 0 {
			return invalid("taskDefinition", "deregistering needs family:revision, got %q", ref)
		}
		d, err := o.getTaskDefinition(tx, ref)
		if err != nil {
			return err
		}
		next := d.Copy()
		if next.Status != task.DefinitionInactive {
			next.Status = task.DefinitionInactive
			next.DeregisteredAt = o.now()
			if err := tx.Update(next); err != nil {
				return err
			}
		}
		out = o.describeTaskDefinition(next.TaskDefinition)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &DeregisterTaskDefinitionOutput{TaskDefinition: out}, nil
}

// DescribeTaskDefinitionInput names a task definition, as ECS
// DescribeTaskDefinition.
type DescribeTaskDefinitionInput struct {
	// TaskDefinition is "family" (its latest ACTIVE revision), "family:N"
	// or an ARN ending in either.
	TaskDefinition string
}

// DescribeTaskDefinitionOutput is the task definition.
type DescribeTaskDefinitionOutput struct {
	TaskDefinition *task.TaskDefinition
}

// DescribeTaskDefinition describes a task definition.
func (o *Orchestrator) DescribeTaskDefinition(ctx context.Context, in DescribeTaskDefinitionInput) (*DescribeTaskDefinitionOutput, error) {
	ref := in.TaskDefinition
	var out *task.TaskDefinition
	err := o.store.View(ctx, func(tx store.ReadTx) error {
		d, err := o.getTaskDefinition(tx, ref)
		if err != nil {
			return err
		}
		out = o.describeTaskDefinition(d.TaskDefinition)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &DescribeTaskDefinitionOutput{TaskDefinition: out}, nil
}

// ListTaskDefinitionFamiliesInput filters and pages the families, as ECS
// ListTaskDefinitionFamilies.
type ListTaskDefinitionFamiliesInput struct {
	// FamilyPrefix keeps the families whose name begins with it.
	FamilyPrefix string
	// Status ACTIVE keeps the families with an ACTIVE revision, INACTIVE
	// those without; empty (or ALL) keeps all.
	Status task.DefinitionStatus
	// MaxResults is 1 to 100 (0 means 100).
	MaxResults int
	// NextToken continues a previous call's listing.
	NextToken string
}

// ListTaskDefinitionFamiliesOutput is a page of family names, sorted;
// NextToken is empty on the last page.
type ListTaskDefinitionFamiliesOutput struct {
	Families  []string
	NextToken string
}

// ListTaskDefinitionFamilies lists the families of the task definitions.
func (o *Orchestrator) ListTaskDefinitionFamilies(ctx context.Context, in ListTaskDefinitionFamiliesInput) (*ListTaskDefinitionFamiliesOutput, error) {
	switch in.Status {
	case "", "ALL", task.DefinitionActive, task.DefinitionInactive:
	default:
		return nil, invalid("status", "must be ACTIVE, INACTIVE or ALL, got %q", in.Status)
	}
	active := map[string]bool{}
	err := o.store.View(ctx, func(tx store.ReadTx) error {
		clear(active)
		defs, err := store.List[*state.TaskDefinition](tx, state.KindTaskDefinitions)
		if err != nil {
			return err
		}
		for _, d := range defs {
			if strings.HasPrefix(d.Family, in.FamilyPrefix) {
				active[d.Family] = active[d.Family] || d.Status == task.DefinitionActive
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var families []string
	for f, act := range active {
		if in.Status == "" || in.Status == "ALL" || act == (in.Status == task.DefinitionActive) {
			families = append(families, f)
		}
	}
	page, next, err := paginate(families, in.MaxResults, 100, in.NextToken)
	if err != nil {
		return nil, err
	}
	return &ListTaskDefinitionFamiliesOutput{Families: page, NextToken: next}, nil
}

// ListTaskDefinitionsInput filters and pages task definitions, as ECS
// ListTaskDefinitions.
type ListTaskDefinitionsInput struct {
	// FamilyPrefix keeps the revisions of one family (ECS's name for it).
	FamilyPrefix string
	// Status is ACTIVE (the default) or INACTIVE.
	Status task.DefinitionStatus
	// Sort is ASC (the default: family, then revision) or DESC.
	Sort string
	// MaxResults is 1 to 100 (0 means 100).
	MaxResults int
	// NextToken continues a previous call's listing.
	NextToken string
}

// ListTaskDefinitionsOutput is a page of task definition ARNs; NextToken
// is empty on the last page.
type ListTaskDefinitionsOutput struct {
	TaskDefinitionArns []string
	NextToken          string
}

// ListTaskDefinitions lists task definitions in family then revision
// order.
func (o *Orchestrator) ListTaskDefinitions(ctx context.Context, in ListTaskDefinitionsInput) (*ListTaskDefinitionsOutput, error) {
	status := in.Status
	if status == "" {
		status = task.DefinitionActive
	}
	if status != task.DefinitionActive && status != task.DefinitionInactive {
		return nil, invalid("status", "must be ACTIVE or INACTIVE, got %q", in.Status)
	}
	cmp := compareRefs
	switch in.Sort {
	case "", "ASC":
	case "DESC":
		cmp = func(a, b string) int { return compareRefs(b, a) }
	default:
		return nil, invalid("sort", "must be ASC or DESC, got %q", in.Sort)
	}
	var refs []string
	err := o.store.View(ctx, func(tx store.ReadTx) error {
		refs = nil
		defs, err := store.List[*state.TaskDefinition](tx, state.KindTaskDefinitions)
		if err != nil {
			return err
		}
		for _, d := range defs {
			if (in.FamilyPrefix == "" || d.Family == in.FamilyPrefix) && d.Status == status {
				refs = append(refs, d.Ref())
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	page, next, err := paginateBy(refs, cmp, in.MaxResults, 100, in.NextToken)
	if err != nil {
		return nil, err
	}
	out := &ListTaskDefinitionsOutput{NextToken: next}
	for _, ref := range page {
		out.TaskDefinitionArns = append(out.TaskDefinitionArns, o.TaskDefinitionARN(ref))
	}
	return out, nil
}

// compareRefs orders "family:N" references by family, then revision.
func compareRefs(a, b string) int {
	fa, ra, _ := task.ParseRef(a)
	fb, rb, _ := task.ParseRef(b)
	if c := strings.Compare(fa, fb); c != 0 {
		return c
	}
	return ra - rb
}

// splitRef is task.ParseRef: a bad reference is a *FieldError at
// "taskDefinition".
func splitRef(ref string) (family string, rev int, err error) { return task.ParseRef(ref) }

func (o *Orchestrator) getTaskDefinition(tx store.ReadTx, ref string) (*state.TaskDefinition, error) {
	family, rev, err := splitRef(ref)
	if err != nil {
		return nil, err
	}
	if rev > 0 {
		d, err := store.Get[*state.TaskDefinition](tx, state.KindTaskDefinitions, fmt.Sprintf("%s:%d", family, rev))
		if errors.Is(err, store.ErrNotFound) {
			return nil, notFound("task definition", ref)
		}
		return d, err
	}
	defs, err := store.List[*state.TaskDefinition](tx, state.KindTaskDefinitions)
	if err != nil {
		return nil, err
	}
	var latest *state.TaskDefinition
	for _, d := range defs {
		if d.Family == family && d.Status == task.DefinitionActive && (latest == nil || d.Revision > latest.Revision) {
			latest = d
		}
	}
	if latest == nil {
		return nil, notFound("task definition", ref)
	}
	return latest, nil
}
