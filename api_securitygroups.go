package stevedore

import (
	"context"

	"github.com/stevedore-io/stevedore/api"
)

// CreateSecurityGroupInput is api.CreateSecurityGroupInput.
type CreateSecurityGroupInput = api.CreateSecurityGroupInput

// CreateSecurityGroupOutput is the group created, with its ID.
type CreateSecurityGroupOutput = api.CreateSecurityGroupOutput

// InUseError is the error of a deletion refused because other objects use the object.
type InUseError = api.InUseError

// DescribeSecurityGroupsInput names the groups to describe by ID or name; none describes every group.
type DescribeSecurityGroupsInput = api.DescribeSecurityGroupsInput

// DescribeSecurityGroupsOutput is the groups, in the order named (by name when none was).
type DescribeSecurityGroupsOutput = api.DescribeSecurityGroupsOutput

// AuthorizeSecurityGroupIngressInput adds ingress rules to a group, named by ID or name.
type AuthorizeSecurityGroupIngressInput = api.AuthorizeSecurityGroupIngressInput

// AuthorizeSecurityGroupIngressOutput is the group with its rules added.
type AuthorizeSecurityGroupIngressOutput = api.AuthorizeSecurityGroupIngressOutput

// RevokeSecurityGroupIngressInput removes ingress rules from a group, named by ID or name.
type RevokeSecurityGroupIngressInput = api.RevokeSecurityGroupIngressInput

// RevokeSecurityGroupIngressOutput is the group with its rules removed.
type RevokeSecurityGroupIngressOutput = api.RevokeSecurityGroupIngressOutput

// AuthorizeSecurityGroupEgressInput adds egress rules to a group, named by ID or name.
type AuthorizeSecurityGroupEgressInput = api.AuthorizeSecurityGroupEgressInput

// AuthorizeSecurityGroupEgressOutput is the group with its rules added.
type AuthorizeSecurityGroupEgressOutput = api.AuthorizeSecurityGroupEgressOutput

// RevokeSecurityGroupEgressInput removes egress rules from a group, named by ID or name.
type RevokeSecurityGroupEgressInput = api.RevokeSecurityGroupEgressInput

// RevokeSecurityGroupEgressOutput is the group with its rules removed.
type RevokeSecurityGroupEgressOutput = api.RevokeSecurityGroupEgressOutput

// DeleteSecurityGroupInput names a group to delete, by ID or name.
type DeleteSecurityGroupInput = api.DeleteSecurityGroupInput

// DeleteSecurityGroupOutput is empty: the group is gone.
type DeleteSecurityGroupOutput = api.DeleteSecurityGroupOutput

// CreateSecurityGroup creates a security group, the set of rules that
// tasks join through the networkConfiguration of RunTask, StartTask,
// CreateService and UpdateService. The group gets an ID ("sg-" and 17
// hexadecimal digits); calls name a group by its ID or its name. As in
// AWS, the group starts with one outbound rule, all traffic to any
// address (network.DefaultEgressRule), which RevokeSecurityGroupEgress
// can take away.
//
// A rule may name security groups (IngressRule.SourceGroups) by ID or
// name, the new group's own name included: the group stores their IDs.
// Invalid input is reported as *FieldError values ("groupName",
// "ingressRules[1].sources[0]", "ingressRules[0].sourceGroups[1]" for a
// group that does not exist), joined when there are several; a name in
// use is ErrAlreadyExists.
func (o *Orchestrator) CreateSecurityGroup(ctx context.Context, in *CreateSecurityGroupInput) (*CreateSecurityGroupOutput, error) {
	return o.actions.CreateSecurityGroup(ctx, value(in))
}

// DescribeSecurityGroups returns security groups by ID or name, in the
// order asked, or every group, sorted by name, when none is named.
func (o *Orchestrator) DescribeSecurityGroups(ctx context.Context, in *DescribeSecurityGroupsInput) (*DescribeSecurityGroupsOutput, error) {
	return o.actions.DescribeSecurityGroups(ctx, value(in))
}

// AuthorizeSecurityGroupIngress adds inbound rules to a group. Each
// permission (protocol and ports from one source prefix or group) must be
// new; otherwise, or when a rule is invalid or names a group that does
// not exist, the call changes nothing and its *FieldError values name the
// rules ("ingressRules[0].sources[1]", "ingressRules[1].sourceGroups[0]").
// Source groups are named by ID or name, and stored by ID.
//
// As in AWS, the change applies to the group's tasks already running too:
// each task not yet STOPPED gets the new union of its groups' rules, which
// its agent applies in place when the instance's network provider
// implements network.IngressUpdater (network/netlinux and network/fake do);
// with another provider a running task keeps the rules it started with.
//
// A rule naming a group admits that group's members: the tasks in it that
// have a network address and have not reached DEPROVISIONING. The policies
// follow the members as they come and go.
func (o *Orchestrator) AuthorizeSecurityGroupIngress(ctx context.Context, in *AuthorizeSecurityGroupIngressInput) (*AuthorizeSecurityGroupIngressOutput, error) {
	return o.actions.AuthorizeSecurityGroupIngress(ctx, value(in))
}

// RevokeSecurityGroupIngress removes inbound rules from a group. Each
// permission must be in the group; otherwise, or when a rule is invalid,
// the call changes nothing and its *FieldError values name the rules. The
// group's running tasks lose the rules as AuthorizeSecurityGroupIngress
// describes.
func (o *Orchestrator) RevokeSecurityGroupIngress(ctx context.Context, in *RevokeSecurityGroupIngressInput) (*RevokeSecurityGroupIngressOutput, error) {
	return o.actions.RevokeSecurityGroupIngress(ctx, value(in))
}

// AuthorizeSecurityGroupEgress adds outbound rules to a group, as
// AuthorizeSecurityGroupIngress adds inbound ones: destination groups are
// named by ID or name, and errors name the rules ("egressRules[0].toPort",
// "egressRules[1].destinationGroups[0]"). The group's running tasks get
// the new rules.
//
// A group keeps the default outbound rule (all traffic to any address)
// until it is revoked: as in AWS, revoke it to limit the group's tasks to
// the outbound rules added. A task whose outbound traffic is limited can
// still reach the DNS server the Orchestrator gives it (service
// discovery's), on udp and tcp port 53, as AWS exempts its own resolver
// from security groups.
func (o *Orchestrator) AuthorizeSecurityGroupEgress(ctx context.Context, in *AuthorizeSecurityGroupEgressInput) (*AuthorizeSecurityGroupEgressOutput, error) {
	return o.actions.AuthorizeSecurityGroupEgress(ctx, value(in))
}

// RevokeSecurityGroupEgress removes outbound rules from a group, as
// RevokeSecurityGroupIngress removes inbound ones. Revoking
// network.DefaultEgressRule from a group without other outbound rules
// leaves its tasks no outbound connection but to their DNS server.
func (o *Orchestrator) RevokeSecurityGroupEgress(ctx context.Context, in *RevokeSecurityGroupEgressInput) (*RevokeSecurityGroupEgressOutput, error) {
	return o.actions.RevokeSecurityGroupEgress(ctx, value(in))
}

// DeleteSecurityGroup deletes a group. It fails with an *InUseError
// (ErrInUse) while a task not yet STOPPED or a service (any of its
// deployments, or its rollback target) is in the group, or while a rule of
// another group names it (as AWS refuses to delete a referenced group;
// revoke those rules first).
func (o *Orchestrator) DeleteSecurityGroup(ctx context.Context, in *DeleteSecurityGroupInput) (*DeleteSecurityGroupOutput, error) {
	return o.actions.DeleteSecurityGroup(ctx, value(in))
}

// FieldErrors returns the *FieldError values in err, which may join several
// (an invalid request is reported field by field), in order; none when err
// is nil or names no field. It is errdefs.FieldErrors.
func FieldErrors(err error) []*FieldError { return api.FieldErrors(err) }
