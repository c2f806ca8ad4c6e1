package health

// Status is the health of a container or a task, as ECS reports it.
type Status string

// Health statuses. Their string values are the ones ECS uses.
const (
	// Unknown means no result that counts has been seen yet: the container
	// has just started, is in its start period, or has no health check.
	Unknown Status = "UNKNOWN"
	// Healthy means the last counted check passed.
	Healthy Status = "HEALTHY"
	// Unhealthy means the last Config.Retries counted checks failed.
	Unhealthy Status = "UNHEALTHY"
)

// severity orders statuses from best to worst: HEALTHY < UNKNOWN < UNHEALTHY.
// Anything unrecognised (including the empty string) is treated as UNKNOWN.
func (s Status) severity() int {
	switch s {
	case Healthy:
		return 0
	case Unhealthy:
		return 2
	default:
		return 1
	}
}

// normalize maps unrecognised statuses (including "") to Unknown.
func (s Status) normalize() Status {
	switch s {
	case Healthy, Unhealthy:
		return s
	default:
		return Unknown
	}
}

// Worst returns the worst of statuses, ordered UNHEALTHY > UNKNOWN > HEALTHY.
// With no statuses it returns Unknown, and unrecognised values (including
// the empty string) count as Unknown.
func Worst(statuses ...Status) Status {
	if len(statuses) == 0 {
		return Unknown
	}
	worst := Healthy
	for _, s := range statuses {
		if s.severity() > worst.severity() {
			worst = s.normalize()
		}
	}
	return worst
}

// ContainerStatus is one container's part in its task's health.
type ContainerStatus struct {
	// Name of the container in the task definition (for the caller's use).
	Name string
	// Essential is the container definition's essential flag.
	Essential bool
	// Checked is true when the container definition has a health check.
	Checked bool
	// Status is the container's current health.
	Status Status
}

// TaskStatus computes a task's health the way ECS does: the worst status
// among its essential containers that have a health check. Containers that
// are not essential or have no health check are ignored; a task with no
// checked essential container is Unknown.
func TaskStatus(containers ...ContainerStatus) Status {
	var statuses []Status
	for _, c := range containers {
		if c.Essential && c.Checked {
			statuses = append(statuses, c.Status)
		}
	}
	return Worst(statuses...)
}
