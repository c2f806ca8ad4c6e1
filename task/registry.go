package task

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stevedore-io/stevedore/errdefs"
)

// ErrNotFound is matched (errors.Is) by the errors of Registry methods
// when a reference names no registered definition.
var ErrNotFound = errdefs.New(errdefs.ErrNotFound, "task definition not found")

// Registry is an in-memory store of task definition revisions, the
// ECS RegisterTaskDefinition family of calls as a plain Go value. It is
// safe for concurrent use. Definitions go in and come out as deep copies:
// changing a value passed to or returned by the registry never changes
// what it holds.
//
// A reference (ref) to a definition is "family" (its latest ACTIVE
// revision), "family:revision", or an ARN-like
// "arn:...:task-definition/family:revision".
type Registry struct {
	now func() time.Time

	mu       sync.RWMutex
	families map[string][]*TaskDefinition // revision N at index N-1
}

// NewRegistry returns an empty registry that stamps registrations with
// now; nil means time.Now.
func NewRegistry(now func() time.Time) *Registry {
	if now == nil {
		now = time.Now
	}
	return &Registry{now: now, families: map[string][]*TaskDefinition{}}
}

// Register validates td and stores a copy as the next revision of its
// family (revisions count from 1 and are never reused), ACTIVE and
// stamped with the registration time. Output-only fields of td (from
// describe output) are replaced. It returns a copy of the stored revision,
// or an error matching ErrInvalid that lists every problem as an
// *errdefs.FieldError.
func (r *Registry) Register(td *TaskDefinition) (*TaskDefinition, error) {
	if err := td.Validate(); err != nil {
		return nil, fmt.Errorf("register task definition: %w", err)
	}
	stored := td.Clone()
	stored.TaskDefinitionARN = ""
	stored.RegisteredBy = ""
	stored.DeregisteredAt = time.Time{}
	stored.Status = DefinitionActive
	stored.RegisteredAt = r.now().UTC().Round(0)

	r.mu.Lock()
	defer r.mu.Unlock()
	revisions := r.families[stored.Family]
	stored.Revision = len(revisions) + 1
	r.families[stored.Family] = append(revisions, stored)
	return stored.Clone(), nil
}

// Get returns a copy of the definition ref names. A ref of a family alone
// names its latest ACTIVE revision; an INACTIVE revision is still found
// by its number.
func (r *Registry) Get(ref string) (*TaskDefinition, error) {
	family, revision, err := parseRef(ref)
	if err != nil {
		return nil, err
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	td, err := r.lookup(family, revision)
	if err != nil {
		return nil, err
	}
	return td.Clone(), nil
}

// Deregister marks the revision ref names INACTIVE: it stays readable by
// family:revision but is no longer a family's latest. ref must name a
// revision. Deregistering an INACTIVE revision again changes nothing. It
// returns a copy of the revision.
func (r *Registry) Deregister(ref string) (*TaskDefinition, error) {
	family, revision, err := parseRef(ref)
	if err != nil {
		return nil, err
	}
	if revision == 0 {
		return nil, fmt.Errorf("deregister task definition %s: name a revision, as in %s:1: %w", quote(ref), clip(family), ErrNotFound)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	td, err := r.lookup(family, revision)
	if err != nil {
		return nil, err
	}
	if td.Status != DefinitionInactive {
		td.Status = DefinitionInactive
		td.DeregisteredAt = r.now().UTC().Round(0)
	}
	return td.Clone(), nil
}

// ListFamilies returns the sorted names of the families with the given
// status: DefinitionActive lists families with at least one ACTIVE
// revision, DefinitionInactive those with none (as ECS does), and the
// empty status lists all.
func (r *Registry) ListFamilies(status DefinitionStatus) []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var names []string
	for name, revisions := range r.families {
		active := slices.ContainsFunc(revisions, func(td *TaskDefinition) bool { return td.Status == DefinitionActive })
		if status == "" || (status == DefinitionActive) == active {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// ListRevisions returns the references ("family:N") of a family's
// revisions with the given status, oldest first; the empty status lists
// all. An unknown family gives ErrNotFound.
func (r *Registry) ListRevisions(family string, status DefinitionStatus) ([]string, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	revisions, ok := r.families[family]
	if !ok {
		return nil, fmt.Errorf("task definition family %s: %w", quote(family), ErrNotFound)
	}
	var refs []string
	for _, td := range revisions {
		if status == "" || td.Status == status {
			refs = append(refs, td.Ref())
		}
	}
	return refs, nil
}

// lookup finds a stored revision; revision 0 means the latest ACTIVE one.
// The caller holds r.mu.
func (r *Registry) lookup(family string, revision int) (*TaskDefinition, error) {
	revisions := r.families[family]
	if revision == 0 {
		for i := len(revisions) - 1; i >= 0; i-- {
			if revisions[i].Status == DefinitionActive {
				return revisions[i], nil
			}
		}
		return nil, fmt.Errorf("task definition family %s has no ACTIVE revision: %w", quote(family), ErrNotFound)
	}
	if revision > len(revisions) {
		return nil, fmt.Errorf("task definition %s:%d: %w", family, revision, ErrNotFound)
	}
	return revisions[revision-1], nil
}

// parseRef splits a reference into family and revision (0 when absent).
// A malformed reference names nothing: its error matches ErrNotFound.
func parseRef(ref string) (family string, revision int, err error) {
	s := ref
	if strings.HasPrefix(s, "arn:") {
		_, rest, ok := strings.Cut(s, ":task-definition/")
		if !ok {
			return "", 0, fmt.Errorf("task definition %s: not a task definition ARN: %w", quote(ref), ErrNotFound)
		}
		s = rest
	}
	family, rev, hasRev := strings.Cut(s, ":")
	if family == "" || !namePattern.MatchString(family) {
		return "", 0, fmt.Errorf("task definition %s: malformed reference: %w", quote(ref), ErrNotFound)
	}
	if hasRev {
		revision, err = strconv.Atoi(rev)
		if err != nil || revision < 1 {
			return "", 0, fmt.Errorf("task definition %s: revision must be a positive number: %w", quote(ref), ErrNotFound)
		}
	}
	return family, revision, nil
}
