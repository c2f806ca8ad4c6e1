package task

import "slices"

// MaxSecurityGroups is how many security groups a task may join, as ECS
// allows per awsvpcConfiguration.
const MaxSecurityGroups = 5

// NetworkConfiguration is the networkConfiguration of ECS's RunTask,
// StartTask, CreateService and UpdateService: the security groups of the
// tasks of an awsvpc task definition. A nil *NetworkConfiguration, or one
// without security groups, leaves the tasks' inbound traffic unfiltered
// (Stevedore has no default security group).
type NetworkConfiguration struct {
	AwsvpcConfiguration *AwsvpcConfiguration `json:"awsvpcConfiguration,omitempty"`
}

// AwsvpcConfiguration is the awsvpc part of a NetworkConfiguration. ECS's
// subnets and assignPublicIp have no counterpart: a task's subnet is the one
// of the instance it is placed on.
type AwsvpcConfiguration struct {
	// SecurityGroups are up to MaxSecurityGroups security groups, by ID or
	// name (stored and shown by ID).
	SecurityGroups []string `json:"securityGroups,omitempty"`
}

// SecurityGroupIDs returns the configuration's security groups; nil for a
// nil configuration.
func (c *NetworkConfiguration) SecurityGroupIDs() []string {
	if c == nil || c.AwsvpcConfiguration == nil {
		return nil
	}
	return c.AwsvpcConfiguration.SecurityGroups
}

// Clone returns a deep copy of c (nil for nil).
func (c *NetworkConfiguration) Clone() *NetworkConfiguration {
	if c == nil {
		return nil
	}
	out := &NetworkConfiguration{}
	if c.AwsvpcConfiguration != nil {
		out.AwsvpcConfiguration = &AwsvpcConfiguration{SecurityGroups: slices.Clone(c.AwsvpcConfiguration.SecurityGroups)}
	}
	return out
}

// Equal reports whether c and other put tasks in the same security groups
// (in any order); nil equals a configuration without groups.
func (c *NetworkConfiguration) Equal(other *NetworkConfiguration) bool {
	a, b := slices.Clone(c.SecurityGroupIDs()), slices.Clone(other.SecurityGroupIDs())
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
