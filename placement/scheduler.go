package placement

import (
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/stevedore-io/stevedore/cluster"
	"github.com/stevedore-io/stevedore/errdefs"
)

// Scheduler is a placement engine configured with plug-ins. It holds no
// state of its own: each round of placement starts with NewRound. A
// Scheduler is immutable and safe for concurrent use.
type Scheduler struct {
	options
}

// Option configures a Scheduler made by New.
type Option func(*options) error

// options are what the options of New set.
type options struct {
	filters    []Filter
	strategies []Strategy
	// strategyTypes and constraintTypes are the custom types a request
	// may name (WithStrategyType, WithConstraintType).
	strategyTypes   map[StrategyType]StrategyBuilder
	constraintTypes map[ConstraintType]ConstraintBuilder
	// scanOnly turns the index off, so tests can compare both paths.
	scanOnly bool
}

// WithFilters adds filters that run, in order, after the built-in ones on
// every request.
func WithFilters(filters ...Filter) Option {
	return func(s *options) error {
		for i, f := range filters {
			if f == nil {
				return &errdefs.FieldError{Path: fmt.Sprintf("filters[%d]", i), Reason: "is nil"}
			}
		}
		s.filters = append(s.filters, filters...)
		return nil
	}
}

// WithStrategies sets the default chain of strategies, used for requests
// that name none. Built-in strategies come from StrategySpec.Strategy;
// ScoreStrategy adapts a Scorer. Without this option (and without request
// strategies) the first instance that fits, in round order, wins.
func WithStrategies(strategies ...Strategy) Option {
	return func(s *options) error {
		for i, st := range strategies {
			if st == nil {
				return &errdefs.FieldError{Path: fmt.Sprintf("strategies[%d]", i), Reason: "is nil"}
			}
		}
		s.strategies = append([]Strategy(nil), strategies...)
		return nil
	}
}

// New returns a Scheduler. With no options it runs the built-in filters
// and the request's strategies only.
func New(opts ...Option) (*Scheduler, error) {
	s := &Scheduler{}
	for _, opt := range opts {
		if err := opt(&s.options); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// NewRound starts a round of placement over instances: it computes, once,
// what the engine needs to know of each instance (remaining resources,
// host ports in use, tasks per group). seed seeds the round's random
// source; the same instances, seed and calls give the same decisions.
//
// The round reads instances in place and never changes them; the caller
// must not change them while the round is in use. Instance IDs must be
// unique. The order of instances is the final tie-breaker: when strategies
// leave several instances equally good, the first one wins.
func (s *Scheduler) NewRound(instances []cluster.ContainerInstance, seed uint64) *Round {
	r := &Round{
		sched:    s,
		seed:     seed,
		rng:      rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		infos:    make([]InstanceInfo, len(instances)),
		groups:   groupTable{ids: map[string]int32{}},
		memberOf: map[string][]uint8{},
		spread:   map[spreadKey]*spreadCounts{},
	}
	// The ports and group counts of all instances share two arrays: one
	// allocation each instead of one per instance. Each instance gets room
	// for one more group, the one a batch typically adds.
	nPorts, nGroups := 0, len(instances)
	for i := range instances {
		nPorts += len(instances[i].Remaining.Ports)
		nGroups += len(instances[i].TaskGroups)
	}
	ports := make([]uint32, 0, nPorts)
	groups := make([]groupCount, 0, nGroups)
	for i := range instances {
		r.infos[i].init(r, &instances[i], int32(i), &ports, &groups)
	}
	return r
}

// errEmptySelection is returned when a strategy selects nothing.
var errEmptySelection = errors.New("selected no instance out of a non-empty list")
