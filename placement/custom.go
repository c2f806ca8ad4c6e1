package placement

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/stevedore-io/stevedore/errdefs"
)

// StrategyBuilder makes the custom strategy a StrategySpec names from the
// spec's Field (its parameter, "" when it takes none). An error refuses
// the spec: it becomes an *errdefs.FieldError at the spec's field, with
// the error's text as the reason.
type StrategyBuilder func(field string) (Strategy, error)

// ConstraintBuilder makes the filter a Constraint of a custom type stands
// for from the constraint's Expression. An error refuses the constraint:
// it becomes an *errdefs.FieldError at the constraint's expression.
type ConstraintBuilder func(expression string) (Filter, error)

// StopBalancer is implemented by a custom Strategy that says how the
// tasks of a service it places are chosen when some must stop (scale-in,
// a deployment replacing tasks, a draining instance): as the built-in
// strategies it returns would choose them, level by level. A custom
// strategy that does not implement it takes no part in that choice: the
// other strategies of the service's chain decide, and when none is left,
// ECS's default for services does (spread over availability zones, then
// over instances).
type StopBalancer interface {
	// StopBalance returns built-in strategy specs (binpack, spread,
	// random); others are ignored.
	StopBalance() []StrategySpec
}

// WithStrategyType registers a custom strategy under a type name, so that
// a StrategySpec (a RunTask's or a service's placementStrategy, as in
// ECS's {"type": "gpu-first", "field": "..."}) can name it: build makes
// the strategy from the spec's Field. The name must not be a built-in
// type (binpack, spread, random) nor registered twice.
func WithStrategyType(typ StrategyType, build StrategyBuilder) Option {
	return func(s *options) error {
		switch {
		case typ == "":
			return &errdefs.FieldError{Path: "strategyType", Reason: "must not be empty"}
		case builtinStrategyType(typ):
			return invalidValue("strategyType", fmt.Sprintf("%q", typ), "is a built-in strategy type")
		case s.strategyTypes[typ] != nil:
			return invalidValue("strategyType", fmt.Sprintf("%q", typ), "is registered twice")
		case build == nil:
			return &errdefs.FieldError{Path: "strategyType", Reason: fmt.Sprintf("%q has a nil builder", typ)}
		}
		if s.strategyTypes == nil {
			s.strategyTypes = map[StrategyType]StrategyBuilder{}
		}
		s.strategyTypes[typ] = build
		return nil
	}
}

// WithConstraintType registers a custom filter under a constraint type,
// so that a placement constraint (of a RunTask or a service) can name it:
// {"type": "maintenance-window", "expression": "..."}. build makes the
// filter from the constraint's Expression; it runs, for the tasks whose
// request carries the constraint, after the built-in checks and the
// scheduler's filters (WithFilters), and the reason of its Unfit status
// is what Explain, RunTask's failures and a service's events report.
// The name must not be a built-in type (distinctInstance, memberOf) nor
// registered twice.
func WithConstraintType(typ ConstraintType, build ConstraintBuilder) Option {
	return func(s *options) error {
		switch {
		case typ == "":
			return &errdefs.FieldError{Path: "constraintType", Reason: "must not be empty"}
		case typ == ConstraintDistinctInstance || typ == ConstraintMemberOf:
			return invalidValue("constraintType", fmt.Sprintf("%q", typ), "is a built-in constraint type")
		case s.constraintTypes[typ] != nil:
			return invalidValue("constraintType", fmt.Sprintf("%q", typ), "is registered twice")
		case build == nil:
			return &errdefs.FieldError{Path: "constraintType", Reason: fmt.Sprintf("%q has a nil builder", typ)}
		}
		if s.constraintTypes == nil {
			s.constraintTypes = map[ConstraintType]ConstraintBuilder{}
		}
		s.constraintTypes[typ] = build
		return nil
	}
}

// builtinStrategyType reports whether typ is binpack, spread or random.
func builtinStrategyType(typ StrategyType) bool {
	return typ == StrategyBinpack || typ == StrategySpread || typ == StrategyRandom
}

// IsBuiltin reports whether the spec names a built-in strategy type
// (binpack, spread or random); a spec of another type can only be checked
// against a Scheduler (Scheduler.Strategy).
func (s StrategySpec) IsBuiltin() bool { return builtinStrategyType(s.Type) }

// HasDefaultStrategies reports whether the scheduler has a default chain
// of strategies (WithStrategies) for requests that name none.
func (s *Scheduler) HasDefaultStrategies() bool { return len(s.strategies) > 0 }

// StrategyTypes returns the custom strategy types registered with
// WithStrategyType, sorted.
func (s *Scheduler) StrategyTypes() []StrategyType {
	return slices.Sorted(maps.Keys(s.strategyTypes))
}

// ConstraintTypes returns the custom constraint types registered with
// WithConstraintType, sorted.
func (s *Scheduler) ConstraintTypes() []ConstraintType {
	return slices.Sorted(maps.Keys(s.constraintTypes))
}

// Strategy returns the strategy spec names: a built-in one, or a custom
// one registered with WithStrategyType. A spec that names none, or that
// its builder refuses, is an *errdefs.FieldError whose path ("type" or
// "field") is relative to the spec.
func (s *Scheduler) Strategy(spec StrategySpec) (Strategy, error) {
	if spec.IsBuiltin() {
		b, err := spec.compile()
		if err != nil {
			return nil, err
		}
		return b, nil
	}
	build := s.strategyTypes[spec.Type]
	if build == nil {
		return nil, invalidValue("type", fmt.Sprintf("%q", spec.Type), s.strategyTypeRule())
	}
	st, err := build(spec.Field)
	if err == nil && st == nil {
		err = errors.New("the strategy's builder returned no strategy")
	}
	if err != nil {
		return nil, &errdefs.FieldError{Path: "field", Reason: fmt.Sprintf("%q is refused by strategy %s: %v", spec.Field, spec.Type, err), Err: err}
	}
	return st, nil
}

// strategyTypeRule is the rule a strategy type breaks, naming the types
// the scheduler knows.
func (s *Scheduler) strategyTypeRule() string {
	names := []string{string(StrategyBinpack), string(StrategySpread), string(StrategyRandom)}
	for _, t := range s.StrategyTypes() {
		names = append(names, string(t))
	}
	return "must be a strategy type the scheduler knows: " + strings.Join(names, ", ")
}

// constraintTypeRule is the rule a constraint type breaks, naming the
// types the scheduler knows.
func (s *Scheduler) constraintTypeRule() string {
	names := []string{string(ConstraintDistinctInstance), string(ConstraintMemberOf)}
	for _, t := range s.ConstraintTypes() {
		names = append(names, string(t))
	}
	return "must be a constraint type the scheduler knows: " + strings.Join(names, ", ")
}

// customFilter returns the filter a constraint of a custom type stands
// for; path is the constraint's ("placementConstraints[i]").
func (s *Scheduler) customFilter(path string, c Constraint) (Filter, error) {
	build := s.constraintTypes[c.Type]
	if build == nil {
		return nil, invalidValue(path+".type", fmt.Sprintf("%q", c.Type), s.constraintTypeRule())
	}
	f, err := build(c.Expression)
	if err == nil && f == nil {
		err = errors.New("the constraint's builder returned no filter")
	}
	if err != nil {
		return nil, &errdefs.FieldError{Path: path + ".expression", Reason: fmt.Sprintf("%q is refused by constraint %s: %v", c.Expression, c.Type, err), Err: err}
	}
	return f, nil
}

// ConstraintFilters returns the filters that the constraints of custom
// types among cs stand for, in order (the built-in ones are left out). An
// error is CheckConstraints'.
func (s *Scheduler) ConstraintFilters(cs []Constraint) ([]Filter, error) {
	var p plan
	for i, c := range cs {
		if err := s.compileConstraint(&p, fmt.Sprintf("placementConstraints[%d]", i), c); err != nil {
			return nil, err
		}
	}
	return p.filters, nil
}

// CheckStrategies checks a placementStrategy against the scheduler: at
// most MaxStrategies, each a built-in strategy or a registered custom one
// whose builder accepts its field. The error is an *errdefs.FieldError
// at "placementStrategy[i].type" or "placementStrategy[i].field".
func (s *Scheduler) CheckStrategies(specs []StrategySpec) error {
	if len(specs) > MaxStrategies {
		return invalidValue("placementStrategy", len(specs), fmt.Sprintf("strategies given, at most %d are allowed", MaxStrategies))
	}
	for i, spec := range specs {
		if _, err := s.Strategy(spec); err != nil {
			return prefixField(fmt.Sprintf("placementStrategy[%d]", i), err)
		}
	}
	return nil
}

// CheckConstraints checks placementConstraints against the scheduler: at
// most MaxConstraints, each distinctInstance, memberOf with an expression
// that parses, or a registered custom type whose builder accepts its
// expression. The error is an *errdefs.FieldError at
// "placementConstraints[i].type" or "placementConstraints[i].expression".
func (s *Scheduler) CheckConstraints(cs []Constraint) error {
	if len(cs) > MaxConstraints {
		return invalidValue("placementConstraints", len(cs), fmt.Sprintf("constraints given, at most %d are allowed", MaxConstraints))
	}
	var p plan
	for i, c := range cs {
		if err := s.compileConstraint(&p, fmt.Sprintf("placementConstraints[%d]", i), c); err != nil {
			return err
		}
	}
	return nil
}
