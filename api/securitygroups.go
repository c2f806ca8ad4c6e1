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
