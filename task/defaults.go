package task

import (
	"math"
	"strconv"
	"time"
)

// ECS defaults applied by the helpers below.
const (
	DefaultStopTimeout         = 30 * time.Second
	DefaultHealthCheckInterval = 30 * time.Second
	DefaultHealthCheckTimeout  = 5 * time.Second
	DefaultHealthCheckRetries  = 3
)

// Ref returns "family:revision", the short reference of a registered
// definition, or just the family when the revision is not set.
func (td *TaskDefinition) Ref() string {
	if td.Revision == 0 {
		return td.Family
	}
	return td.Family + ":" + strconv.Itoa(td.Revision)
}

// EffectiveNetworkMode returns the network mode, NetworkBridge when unset.
func (td *TaskDefinition) EffectiveNetworkMode() NetworkMode {
	if td.NetworkMode == "" {
		return NetworkBridge
	}
	return td.NetworkMode
}

// Container returns the container definition with the given name, or nil.
func (td *TaskDefinition) Container(name string) *ContainerDefinition {
	for i := range td.ContainerDefinitions {
		if td.ContainerDefinitions[i].Name == name {
			return &td.ContainerDefinitions[i]
		}
	}
	return nil
}

// Requirements returns the cpu units and MiB of memory that placement
// reserves for a task of td: the task-level cpu and memory when set,
// otherwise the sum over the containers, where a container reserves its
// memoryReservation when set and its memory otherwise (as ECS does). A
// task-level value that does not parse counts as unset; Validate reports
// it.
func (td *TaskDefinition) Requirements() (cpuUnits, memoryMiB int) {
	for i := range td.ContainerDefinitions {
		c := &td.ContainerDefinitions[i]
		cpuUnits += c.CPU
		memoryMiB += c.reservedMemory()
	}
	if n, err := td.CPU.Units(); td.CPU != "" && err == nil {
		cpuUnits = n
	}
	if n, err := td.Memory.MiB(); td.Memory != "" && err == nil {
		memoryMiB = n
	}
	return cpuUnits, memoryMiB
}

// reservedMemory is the memory a container takes from its instance.
func (c *ContainerDefinition) reservedMemory() int {
	if c.MemoryReservation > 0 {
		return c.MemoryReservation
	}
	return c.Memory
}

// Clone returns a deep copy of td.
func (td *TaskDefinition) Clone() *TaskDefinition { return deepCopy(td) }

// IsEssential reports whether the task stops when this container exits:
// true unless essential is explicitly false.
func (c *ContainerDefinition) IsEssential() bool {
	return c.Essential == nil || *c.Essential
}

// StopTimeout returns the grace period between SIGTERM and SIGKILL:
// stopTimeout, or DefaultStopTimeout when unset.
func (c *ContainerDefinition) StopTimeout() time.Duration {
	if c.StopTimeoutSeconds == nil {
		return DefaultStopTimeout
	}
	return seconds(*c.StopTimeoutSeconds)
}

// StartTimeout returns how long to wait for the container's dependencies;
// ok is false when startTimeout is unset and the agent's default applies.
func (c *ContainerDefinition) StartTimeout() (d time.Duration, ok bool) {
	if c.StartTimeoutSeconds == nil {
		return 0, false
	}
	return seconds(*c.StartTimeoutSeconds), true
}

// EffectiveProtocol returns the protocol, ProtocolTCP when unset.
func (pm *PortMapping) EffectiveProtocol() Protocol {
	if pm.Protocol == "" {
		return ProtocolTCP
	}
	return pm.Protocol
}

// Interval returns the time between checks, 30 s when unset.
func (hc *HealthCheck) Interval() time.Duration {
	return secondsOr(hc.IntervalSeconds, DefaultHealthCheckInterval)
}

// Timeout returns how long one check may take, 5 s when unset.
func (hc *HealthCheck) Timeout() time.Duration {
	return secondsOr(hc.TimeoutSeconds, DefaultHealthCheckTimeout)
}

// Retries returns how many consecutive failures make the container
// UNHEALTHY, 3 when unset.
func (hc *HealthCheck) Retries() int {
	if hc.RetryCount == 0 {
		return DefaultHealthCheckRetries
	}
	return hc.RetryCount
}

// StartPeriod returns the grace period after start during which failures
// do not count, 0 when unset.
func (hc *HealthCheck) StartPeriod() time.Duration {
	return seconds(hc.StartPeriodSeconds)
}

func secondsOr(s int, def time.Duration) time.Duration {
	if s == 0 {
		return def
	}
	return seconds(s)
}

// seconds converts s seconds to a Duration, saturating rather than
// wrapping: Validate keeps the numbers of a definition far below the
// limits, but a definition that was never validated must not turn a long
// timeout into a negative one.
func seconds(s int) time.Duration {
	const most = int(math.MaxInt64 / int64(time.Second))
	switch {
	case s > most:
		return math.MaxInt64
	case s < -most:
		return math.MinInt64
	}
	return time.Duration(s) * time.Second
}
