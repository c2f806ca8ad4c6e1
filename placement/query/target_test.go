package query

import (
	"slices"
	"time"
)

// instance is the Target the tests evaluate against; its zero value is a
// connected-agent-less instance with no attributes and no tasks.
type instance struct {
	id         string
	attributes map[string]string
	registered time.Time
	groups     []string // one entry per task desired RUNNING
	connected  bool
	version    string
}

var _ Target = (*instance)(nil)

func (i *instance) InstanceID() string { return i.id }

func (i *instance) Attribute(name string) (string, bool) {
	v, ok := i.attributes[name]
	return v, ok
}

func (i *instance) RegisteredAt() time.Time { return i.registered }

func (i *instance) RunningTasksCount() int { return len(i.groups) }

func (i *instance) HasTaskGroup(match func(group string) bool) bool {
	return slices.ContainsFunc(i.groups, match)
}

func (i *instance) AgentConnected() bool { return i.connected }

func (i *instance) AgentVersion() string { return i.version }

// Instances the tables share. m5 is a typical ECS instance; bare has
// nothing at all.
var (
	m5 = &instance{
		id: "i-abcd1234",
		attributes: map[string]string{
			"ecs.instance-type":     "m5.large",
			"ecs.availability-zone": "us-east-1a",
			"ecs.os-type":           "linux",
			"stack":                 "prod",
			"slots":                 "10",
			"owner":                 "team a",
		},
		registered: time.Date(2018, 2, 13, 10, 30, 15, 500, time.UTC),
		groups:     []string{"service:production", "family:web"},
		connected:  true,
		version:    "1.14.5",
	}
	t2 = &instance{
		id: "i-wxyx7890",
		attributes: map[string]string{
			"ecs.instance-type":     "t2.small",
			"ecs.availability-zone": "us-east-1d",
			"slots":                 "9",
		},
		registered: time.Date(2018, 3, 1, 0, 0, 0, 0, time.UTC),
		groups:     []string{"database"},
		connected:  false,
		version:    "1.5.0",
	}
	g2 = &instance{
		id: "i-g2",
		attributes: map[string]string{
			"ecs.instance-type":     "g2.2xlarge",
			"ecs.availability-zone": "us-east-1b",
		},
		registered: time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC),
		connected:  true,
		version:    "1.20.0",
	}
	bare = &instance{}

	everyInstance = []*instance{m5, t2, g2, bare}
)
