package api

import (
	"fmt"
	"strings"

	"github.com/stevedore-io/stevedore/network"
)

// CreateSecurityGroupInput describes a new security group, as EC2's
// CreateSecurityGroup followed by AuthorizeSecurityGroupIngress.
type CreateSecurityGroupInput struct {
	// GroupName is unique, 1 to 255 printable ASCII characters, and does
	// not start with "sg-".
	GroupName string
	// Description is optional, up to 255 printable ASCII characters.
	Description string
	// IngressRules are the group's first inbound rules; none means the
	// group's tasks accept no inbound connection until rules are added.
	IngressRules []network.IngressRule
}

// CreateSecurityGroupOutput is the group created, with its ID.
type CreateSecurityGroupOutput struct {
	SecurityGroup network.SecurityGroup
}

// InUseError is the error of a deletion refused because other objects use
// the object. It matches ErrInUse.
type InUseError struct {
	// Object is what could not be deleted, such as "security group sg-0a1b".
	Object string
	// UsedBy names the users, such as "task 3f2a..." or "service prod/web".
	UsedBy []string
}

// Error implements error.
func (e *InUseError) Error() string {
	return fmt.Sprintf("stevedore: in use: %s is used by %s", e.Object, strings.Join(e.UsedBy, ", "))
}

// Unwrap makes errors.Is(err, ErrInUse) true.
func (e *InUseError) Unwrap() error { return ErrInUse }

// DescribeSecurityGroupsInput names the groups to describe by ID or name;
// none describes every group.
type DescribeSecurityGroupsInput struct {
	GroupIDs []string
}

// DescribeSecurityGroupsOutput is the groups, in the order named (by name
// when none was).
type DescribeSecurityGroupsOutput struct {
	SecurityGroups []network.SecurityGroup
}

// AuthorizeSecurityGroupIngressInput adds ingress rules to a group, named
// by ID or name.
type AuthorizeSecurityGroupIngressInput struct {
	GroupID string
	Rules   []network.IngressRule
}

// AuthorizeSecurityGroupIngressOutput is the group with its rules added.
type AuthorizeSecurityGroupIngressOutput struct {
	SecurityGroup network.SecurityGroup
}

// RevokeSecurityGroupIngressInput removes ingress rules from a group,
// named by ID or name.
type RevokeSecurityGroupIngressInput struct {
	GroupID string
	Rules   []network.IngressRule
}

// RevokeSecurityGroupIngressOutput is the group with its rules removed.
type RevokeSecurityGroupIngressOutput struct {
	SecurityGroup network.SecurityGroup
}

// AuthorizeSecurityGroupEgressInput adds egress rules to a group, named by
// ID or name.
type AuthorizeSecurityGroupEgressInput struct {
	GroupID string
	Rules   []network.EgressRule
}

// AuthorizeSecurityGroupEgressOutput is the group with its rules added.
type AuthorizeSecurityGroupEgressOutput struct {
	SecurityGroup network.SecurityGroup
}

// RevokeSecurityGroupEgressInput removes egress rules from a group, named
// by ID or name.
type RevokeSecurityGroupEgressInput struct {
	GroupID string
	Rules   []network.EgressRule
}

// RevokeSecurityGroupEgressOutput is the group with its rules removed.
type RevokeSecurityGroupEgressOutput struct {
	SecurityGroup network.SecurityGroup
}

// DeleteSecurityGroupInput names a group to delete, by ID or name.
type DeleteSecurityGroupInput struct {
	GroupID string
}

// DeleteSecurityGroupOutput is empty: the group is gone.
type DeleteSecurityGroupOutput struct{}
