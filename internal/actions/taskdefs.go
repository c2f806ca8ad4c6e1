package actions

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stevedore-io/stevedore/api"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/task"
)

// RegisterTaskDefinition validates the definition and stores it as the next
// revision of its family (family:N, N counting from 1 and never reused).
// Orchestrator.RegisterTaskDefinition documents it.
func (a *Actions) RegisterTaskDefinition(ctx context.Context, in api.RegisterTaskDefinitionInput) (*api.RegisterTaskDefinitionOutput, error) {
	td := &in.TaskDefinition
	if err := a.checkOpen(); err != nil {
		return nil, err
	}
	if td == nil {
		return nil, invalid("taskDefinition", "is required")
	}
	if err := td.Validate(); err != nil {
		return nil, err
	}
	reg := td.Clone()
	err := a.store.Update(ctx, func(tx store.Tx) error {
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
		reg.RegisteredAt = a.now()
		reg.DeregisteredAt = time.Time{}
		reg.TaskDefinitionARN = a.TaskDefinitionARN(reg.Ref())
		return tx.Create(&state.TaskDefinition{TaskDefinition: reg})
	})
	if err != nil {
		return nil, err
	}
	reg = a.describeTaskDefinition(reg)
	return &api.RegisterTaskDefinitionOutput{TaskDefinition: reg, Tags: slices.Clone(reg.Tags)}, nil
}

// DeregisterTaskDefinition marks family:N INACTIVE. Running tasks and
// services keep using it; new ones cannot.
func (a *Actions) DeregisterTaskDefinition(ctx context.Context, in api.DeregisterTaskDefinitionInput) (*api.DeregisterTaskDefinitionOutput, error) {
	ref := in.TaskDefinition
	var out *task.TaskDefinition
	err := a.store.Update(ctx, func(tx store.Tx) error {
		_, rev, err := splitRef(ref)
		if err != nil {
			return err
		}
		if rev == 0 {
			return invalid("taskDefinition", "deregistering needs family:revision, got %q", ref)
		}
		d, err := a.getTaskDefinition(tx, ref)
		if err != nil {
			return err
		}
		next := d.Copy()
		if next.Status != task.DefinitionInactive {
			next.Status = task.DefinitionInactive
			next.DeregisteredAt = a.now()
			if err := tx.Update(next); err != nil {
				return err
			}
		}
		out = a.describeTaskDefinition(next.TaskDefinition)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &api.DeregisterTaskDefinitionOutput{TaskDefinition: out}, nil
}

// DescribeTaskDefinition describes a task definition.
func (a *Actions) DescribeTaskDefinition(ctx context.Context, in api.DescribeTaskDefinitionInput) (*api.DescribeTaskDefinitionOutput, error) {
	ref := in.TaskDefinition
	var out *task.TaskDefinition
	err := a.store.View(ctx, func(tx store.ReadTx) error {
		d, err := a.getTaskDefinition(tx, ref)
		if err != nil {
			return err
		}
		out = a.describeTaskDefinition(d.TaskDefinition)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &api.DescribeTaskDefinitionOutput{TaskDefinition: out}, nil
}

// ListTaskDefinitionFamilies lists the families of the task definitions.
func (a *Actions) ListTaskDefinitionFamilies(ctx context.Context, in api.ListTaskDefinitionFamiliesInput) (*api.ListTaskDefinitionFamiliesOutput, error) {
	switch in.Status {
	case "", "ALL", task.DefinitionActive, task.DefinitionInactive:
	default:
		return nil, invalid("status", "must be ACTIVE, INACTIVE or ALL, got %q", in.Status)
	}
	active := map[string]bool{}
	err := a.store.View(ctx, func(tx store.ReadTx) error {
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
	return &api.ListTaskDefinitionFamiliesOutput{Families: page, NextToken: next}, nil
}

// ListTaskDefinitions lists task definitions in family then revision
// order.
func (a *Actions) ListTaskDefinitions(ctx context.Context, in api.ListTaskDefinitionsInput) (*api.ListTaskDefinitionsOutput, error) {
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
	err := a.store.View(ctx, func(tx store.ReadTx) error {
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
	out := &api.ListTaskDefinitionsOutput{NextToken: next}
	for _, ref := range page {
		out.TaskDefinitionArns = append(out.TaskDefinitionArns, a.TaskDefinitionARN(ref))
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

func (a *Actions) getTaskDefinition(tx store.ReadTx, ref string) (*state.TaskDefinition, error) {
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
