package lb

// TargetState is the state of a target in a target group, as in ALB.
type TargetState string

// Target states.
const (
	// StateInitial: registered, no health check has decided yet. A target
	// in this state gets no traffic.
	StateInitial TargetState = "initial"
	// StateHealthy: passing health checks; the only state that gets new
	// requests and connections (unless the group fails open).
	StateHealthy TargetState = "healthy"
	// StateUnhealthy: failed UnhealthyThreshold consecutive checks.
	StateUnhealthy TargetState = "unhealthy"
	// StateDraining: deregistered; in-flight requests and open connections
	// finish, new ones go elsewhere. Health checks stop.
	StateDraining TargetState = "draining"
	// StateUnused: not registered (never, or no longer).
	StateUnused TargetState = "unused"
)

// Reason codes of TargetHealth, as in ALB. A healthy target has none.
const (
	ReasonRegistrationInProgress   = "Elb.RegistrationInProgress"
	ReasonInitialHealthChecking    = "Elb.InitialHealthChecking"
	ReasonResponseCodeMismatch     = "Target.ResponseCodeMismatch"
	ReasonTimeout                  = "Target.Timeout"
	ReasonFailedHealthChecks       = "Target.FailedHealthChecks"
	ReasonDeregistrationInProgress = "Target.DeregistrationInProgress"
	ReasonNotRegistered            = "Target.NotRegistered"
)

// TargetHealth is the health of one target as the target group sees it.
type TargetHealth struct {
	State TargetState `json:"state"`
	// Reason is one of the Reason* codes; empty when healthy.
	Reason string `json:"reason,omitempty"`
	// Description says more, for people.
	Description string `json:"description,omitempty"`
}

var (
	healthRegistering = TargetHealth{State: StateInitial, Reason: ReasonRegistrationInProgress, Description: "Target registration is in progress"}
	healthHealthy     = TargetHealth{State: StateHealthy}
	healthDraining    = TargetHealth{State: StateDraining, Reason: ReasonDeregistrationInProgress, Description: "Target deregistration is in progress"}
	healthUnused      = TargetHealth{State: StateUnused, Reason: ReasonNotRegistered, Description: "Target is not registered to the target group"}
)

// checkResult is the outcome of one health check. A failure carries the
// reason code and description the target shows once the failure counts.
type checkResult struct {
	OK          bool
	Reason      string
	Description string
}

// healthState is a target's health with the counts of consecutive passed
// and failed checks that drive it.
type healthState struct {
	Health    TargetHealth
	Successes int
	Failures  int
}

// observe is the health state machine: the state after check result r. It
// is pure; only initial, healthy and unhealthy targets are checked.
//
//   - initial -> healthy after one passed check;
//   - initial or healthy -> unhealthy after UnhealthyThreshold consecutive
//     failed checks (a failing initial target shows Elb.InitialHealthChecking
//     until then);
//   - unhealthy -> healthy after HealthyThreshold consecutive passed checks.
func (s healthState) observe(hc HealthCheck, r checkResult) healthState {
	if r.OK {
		s.Successes++
		s.Failures = 0
		if s.Health.State == StateInitial || s.Successes >= hc.HealthyThreshold {
			s.Health = healthHealthy
		}
		return s
	}
	s.Failures++
	s.Successes = 0
	failed := TargetHealth{State: StateUnhealthy, Reason: r.Reason, Description: r.Description}
	switch {
	case s.Health.State == StateUnhealthy:
		s.Health = failed // keep the latest reason
	case s.Failures >= hc.UnhealthyThreshold:
		s.Health = failed
	case s.Health.State == StateInitial:
		s.Health = TargetHealth{State: StateInitial, Reason: ReasonInitialHealthChecking, Description: "Initial health checking in progress"}
	}
	return s
}
