package stevedore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/task"
)

// RegisterTaskDefinition validates td and stores it as the next revision of
// its family (family:N, N counting from 1 and never reused). The returned
// copy carries Revision, Status ACTIVE and RegisteredAt. Validation errors
// are *task.ValidationError (errors.Is(err, task.ErrInvalid)) listing every
// problem with its field path.
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

// DeregisterTaskDefinition marks family:N INACTIVE. Running tasks and
// services keep using it; new ones cannot.
func (o *Orchestrator) DeregisterTaskDefinition(ctx context.Context, ref string) (*task.TaskDefinition, error) {
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
	return out, err
}

// DescribeTaskDefinition returns a task definition by "family" (its latest
// ACTIVE revision), "family:N" or an ARN ending in either.
func (o *Orchestrator) DescribeTaskDefinition(ctx context.Context, ref string) (*task.TaskDefinition, error) {
	var out *task.TaskDefinition
	err := o.store.View(ctx, func(tx store.ReadTx) error {
		d, err := o.getTaskDefinition(tx, ref)
		if err != nil {
			return err
		}
		out = o.describeTaskDefinition(d.TaskDefinition)
		return nil
	})
	return out, err
}

// ListTaskDefinitionFamilies lists families with at least one revision of
// the given status (any status when empty), sorted.
func (o *Orchestrator) ListTaskDefinitionFamilies(ctx context.Context, status task.DefinitionStatus) ([]string, error) {
	var out []string
	err := o.store.View(ctx, func(tx store.ReadTx) error {
		defs, err := store.List[*state.TaskDefinition](tx, state.KindTaskDefinitions)
		if err != nil {
			return err
		}
		seen := map[string]bool{}
		for _, d := range defs {
			if (status == "" || d.Status == status) && !seen[d.Family] {
				seen[d.Family] = true
				out = append(out, d.Family)
			}
		}
		slices.Sort(out)
		return nil
	})
	return out, err
}

// ListTaskDefinitions lists family:N references of a family (all families
// when empty), in family then revision order, optionally by status.
func (o *Orchestrator) ListTaskDefinitions(ctx context.Context, family string, status task.DefinitionStatus) ([]string, error) {
	type ref struct {
		family string
		rev    int
	}
	var refs []ref
	err := o.store.View(ctx, func(tx store.ReadTx) error {
		defs, err := store.List[*state.TaskDefinition](tx, state.KindTaskDefinitions)
		if err != nil {
			return err
		}
		for _, d := range defs {
			if (family == "" || d.Family == family) && (status == "" || d.Status == status) {
				refs = append(refs, ref{d.Family, d.Revision})
			}
		}
		return nil
	})
	slices.SortFunc(refs, func(a, b ref) int {
		if c := strings.Compare(a.family, b.family); c != 0 {
			return c
		}
		return a.rev - b.rev
	})
	out := make([]string, len(refs))
	for i, r := range refs {
		out[i] = fmt.Sprintf("%s:%d", r.family, r.rev)
	}
	return out, err
}

// splitRef is task.ParseRef with the error the API returns for a bad field.
func splitRef(ref string) (family string, rev int, err error) {
	family, rev, err = task.ParseRef(ref)
	if fe := (task.FieldError{}); errors.As(err, &fe) {
		return "", 0, invalid(fe.Path, "%s", fe.Message)
	}
	return family, rev, err
}

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
