package placement

import (
	"errors"
	"fmt"
)

// Code separates the outcomes of a plug-in call.
type Code int

// Status codes.
const (
	// CodeSuccess: the instance fits (Filter) or the call worked.
	CodeSuccess Code = iota
	// CodeUnfit: the instance cannot take the task. This is an ordinary
	// answer: the instance is counted under the status's Reason.
	CodeUnfit
	// CodeError: the plug-in broke. Placement stops and returns a
	// *PluginError.
	CodeError
)

// String returns "Success", "Unfit" or "Error".
func (c Code) String() string {
	switch c {
	case CodeSuccess:
		return "Success"
	case CodeUnfit:
		return "Unfit"
	case CodeError:
		return "Error"
	}
	return fmt.Sprintf("Code(%d)", int(c))
}

// Status is what a plug-in returns. A nil *Status means success; its
// methods may be called on nil.
type Status struct {
	code   Code
	reason Reason
	err    error
}

// Unfit returns a status saying the instance cannot take the task, for the
// given reason (which Explain counts, such as "GPU" or "MaintenanceWindow").
func Unfit(reason Reason) *Status {
	return &Status{code: CodeUnfit, reason: reason}
}

// Broken returns a status saying the plug-in failed with err.
func Broken(err error) *Status {
	if err == nil {
		err = errors.New("unknown error")
	}
	return &Status{code: CodeError, err: err}
}

// Code returns the status's code; CodeSuccess for nil.
func (s *Status) Code() Code {
	if s == nil {
		return CodeSuccess
	}
	return s.code
}

// IsSuccess reports whether the status is a success.
func (s *Status) IsSuccess() bool { return s.Code() == CodeSuccess }

// Reason returns the reason of an Unfit status.
func (s *Status) Reason() Reason {
	if s == nil {
		return ""
	}
	return s.reason
}

// Err returns the error of an Error status.
func (s *Status) Err() error {
	if s == nil {
		return nil
	}
	return s.err
}

// String describes the status.
func (s *Status) String() string {
	switch s.Code() {
	case CodeUnfit:
		return "Unfit: " + string(s.reason)
	case CodeError:
		return "Error: " + s.err.Error()
	}
	return "Success"
}

// Filter is a plug-in that decides whether one instance can take a task.
// Filters run after the built-in ones (status, capacity provider,
// resources, constraints), for instances that passed those.
//
// Filter must depend only on the request and on the instance it is given
// (the InstanceInfo reflects the tasks already placed in the round): the
// engine checks an instance again only after a task was placed on it, and
// drops an instance that does not fit for the rest of a batch.
type Filter interface {
	// Name identifies the plug-in in errors.
	Name() string
	// Filter returns nil when inst can take the task, Unfit(reason) when it
	// cannot, Broken(err) when the filter failed.
	Filter(req *Request, inst *InstanceInfo) *Status
}

// Score bounds: a Scorer's scores lie in [MinScore, MaxScore].
const (
	MinScore = 0
	MaxScore = 100
)

// Scorer is a plug-in that rates an instance for a task; higher is better.
// ScoreStrategy turns a Scorer into a Strategy that keeps the instances with
// the highest score.
type Scorer interface {
	// Name identifies the plug-in in errors.
	Name() string
	// Score rates inst in [MinScore, MaxScore]. A score out of bounds is
	// reported as a *PluginError.
	Score(req *Request, inst *InstanceInfo) (int, *Status)
}

// Strategy is a plug-in that chooses among the instances that can take a
// task. Strategies are chained, as in ECS: each one narrows the candidates
// to those it likes best, and the next one breaks the ties the previous one
// left. When more than one candidate remains at the end, the first (in the
// order the instances were given to the round) wins.
type Strategy interface {
	// Name identifies the strategy, such as "spread(attribute:ecs.availability-zone)".
	Name() string
	// Select returns the best of candidates, keeping ties in their order.
	// candidates all fit the task, are in round order, and are never
	// empty; Select may reuse their backing array for its result, and
	// must return at least one of them unless it fails. The round gives
	// access to the random source (Round.Rand) and to the instances that
	// are not candidates.
	Select(r *Round, req *Request, candidates []*InstanceInfo) ([]*InstanceInfo, *Status)
}

// ScoreStrategy returns a Strategy that keeps the candidates the Scorer
// rates highest.
func ScoreStrategy(s Scorer) Strategy { return scoreStrategy{s} }

type scoreStrategy struct{ scorer Scorer }

func (s scoreStrategy) Name() string { return "score(" + s.scorer.Name() + ")" }

func (s scoreStrategy) Select(_ *Round, req *Request, candidates []*InstanceInfo) ([]*InstanceInfo, *Status) {
	best := MinScore - 1
	out := candidates[:0]
	for _, c := range candidates {
		score, st := s.scorer.Score(req, c)
		if !st.IsSuccess() {
			if st.Code() == CodeUnfit {
				return nil, Broken(fmt.Errorf("instance %s: a scorer cannot turn an instance down (Unfit: %s); use a Filter", c.InstanceID(), st.Reason()))
			}
			return nil, Broken(fmt.Errorf("instance %s: %w", c.InstanceID(), st.Err()))
		}
		if score < MinScore || score > MaxScore {
			return nil, Broken(fmt.Errorf("instance %s: score %d out of [%d, %d]", c.InstanceID(), score, MinScore, MaxScore))
		}
		switch {
		case score > best:
			best = score
			out = append(out[:0], c)
		case score == best:
			out = append(out, c)
		}
	}
	return out, nil
}
