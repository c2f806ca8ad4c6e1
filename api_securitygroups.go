package stevedore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/stevedore-io/stevedore/errdefs"
	"github.com/stevedore-io/stevedore/internal/launch"
	"github.com/stevedore-io/stevedore/internal/sgsync"
	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/network"
	"github.com/stevedore-io/stevedore/service"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/task"
)

// fieldNetworkSecurityGroups is the path of a request's security groups.
const fieldNetworkSecurityGroups = "networkConfiguration.awsvpcConfiguration.securityGroups"

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
func (o *Orchestrator) CreateSecurityGroup(ctx context.Context, in CreateSecurityGroupInput) (*network.SecurityGroup, error) {
	if err := o.checkOpen(); err != nil {
		return nil, err
	}
	var out *network.SecurityGroup
	err := o.store.Update(ctx, func(tx store.Tx) error {
		g := network.NewSecurityGroup("sg-"+launch.RandomHex(17), in.GroupName, in.Description)
		refs, err := newGroupRefs(tx, g)
		if err != nil {
			return err
		}
		rules, refErr := refs.ingress(in.IngressRules)
		if refErr == nil {
			// Validate checks the name and description (the group has
			// no inbound rule yet); AuthorizeIngress checks and
			// normalises the rules.
			refErr = g.AuthorizeIngress(rules)
		}
		if err := errors.Join(g.Validate(), refErr); err != nil {
			return err
		}
		if other := refs.byName[g.Name]; other != nil && other != g {
			return fmt.Errorf("%w: security group %q (%s)", ErrAlreadyExists, g.Name, other.ID)
		}
		out = g.Clone()
		return tx.Create(&state.SecurityGroup{SecurityGroup: *g})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// groupRefs resolves the groups that rules name, by ID or name, against
// the groups stored (and the group being created, which rules may name
// too).
type groupRefs struct {
	byID, byName map[string]*network.SecurityGroup
}

// newGroupRefs reads the stored groups; self, when not nil, is a group
// being created, which is not stored yet.
func newGroupRefs(tx store.ReadTx, self *network.SecurityGroup) (*groupRefs, error) {
	all, err := store.List[*state.SecurityGroup](tx, state.KindSecurityGroups)
	if err != nil {
		return nil, err
	}
	r := &groupRefs{byID: make(map[string]*network.SecurityGroup, len(all)+1), byName: make(map[string]*network.SecurityGroup, len(all)+1)}
	for _, g := range all {
		r.byID[g.ID], r.byName[g.Name] = &g.SecurityGroup, &g.SecurityGroup
	}
	if self != nil {
		r.byID[self.ID] = self
		if _, taken := r.byName[self.Name]; !taken {
			r.byName[self.Name] = self
		}
	}
	return r, nil
}

// resolve returns refs with every group named by ID, or a *FieldError at
// field(j) for each ref j that names no group.
func (r *groupRefs) resolve(refs []string, field func(j int) string) ([]string, error) {
	if len(refs) == 0 {
		return refs, nil
	}
	out := make([]string, len(refs))
	var errs []error
	for j, ref := range refs {
		g := r.byName[ref]
		if strings.HasPrefix(ref, "sg-") {
			g = r.byID[ref]
		}
		if g == nil {
			errs = append(errs, invalid(field(j), "no security group %q", ref))
			continue
		}
		out[j] = g.ID
	}
	return out, errors.Join(errs...)
}

// ingress returns rules with their source groups by ID; errors name them
// as "ingressRules[i].sourceGroups[j]". The caller's rules are not
// changed.
func (r *groupRefs) ingress(rules []network.IngressRule) ([]network.IngressRule, error) {
	out := slices.Clone(rules)
	var errs []error
	for i := range out {
		var err error
		out[i].SourceGroups, err = r.resolve(out[i].SourceGroups, func(j int) string {
			return fmt.Sprintf("ingressRules[%d].sourceGroups[%d]", i, j)
		})
		errs = append(errs, err)
	}
	return out, errors.Join(errs...)
}

// egress is ingress for outbound rules: "egressRules[i].destinationGroups[j]".
func (r *groupRefs) egress(rules []network.EgressRule) ([]network.EgressRule, error) {
	out := slices.Clone(rules)
	var errs []error
	for i := range out {
		var err error
		out[i].DestinationGroups, err = r.resolve(out[i].DestinationGroups, func(j int) string {
			return fmt.Sprintf("egressRules[%d].destinationGroups[%d]", i, j)
		})
		errs = append(errs, err)
	}
	return out, errors.Join(errs...)
}

// DescribeSecurityGroups returns security groups by ID or name, in the
// order asked, or every group, sorted by name, when none is named.
func (o *Orchestrator) DescribeSecurityGroups(ctx context.Context, groups ...string) ([]network.SecurityGroup, error) {
	var out []network.SecurityGroup
	err := o.store.View(ctx, func(tx store.ReadTx) error {
		out = nil
		if len(groups) == 0 {
			all, err := store.List[*state.SecurityGroup](tx, state.KindSecurityGroups)
			if err != nil {
				return err
			}
			for _, g := range all {
				out = append(out, *g.SecurityGroup.Clone())
			}
			slices.SortFunc(out, func(a, b network.SecurityGroup) int { return strings.Compare(a.Name, b.Name) })
			return nil
		}
		for _, ref := range groups {
			g, err := o.getSecurityGroup(tx, ref)
			if err != nil {
				return err
			}
			out = append(out, *g.SecurityGroup.Clone())
		}
		return nil
	})
	return out, err
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
func (o *Orchestrator) AuthorizeSecurityGroupIngress(ctx context.Context, group string, rules []network.IngressRule) (*network.SecurityGroup, error) {
	return o.changeRules(ctx, group, func(refs *groupRefs, g *network.SecurityGroup) error {
		rules, err := refs.ingress(rules)
		if err != nil {
			return err
		}
		return g.AuthorizeIngress(rules)
	})
}

// RevokeSecurityGroupIngress removes inbound rules from a group. Each
// permission must be in the group; otherwise, or when a rule is invalid,
// the call changes nothing and its *FieldError values name the rules. The
// group's running tasks lose the rules as AuthorizeSecurityGroupIngress
// describes.
func (o *Orchestrator) RevokeSecurityGroupIngress(ctx context.Context, group string, rules []network.IngressRule) (*network.SecurityGroup, error) {
	return o.changeRules(ctx, group, func(refs *groupRefs, g *network.SecurityGroup) error {
		rules, err := refs.ingress(rules)
		if err != nil {
			return err
		}
		return g.RevokeIngress(rules)
	})
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
func (o *Orchestrator) AuthorizeSecurityGroupEgress(ctx context.Context, group string, rules []network.EgressRule) (*network.SecurityGroup, error) {
	return o.changeRules(ctx, group, func(refs *groupRefs, g *network.SecurityGroup) error {
		rules, err := refs.egress(rules)
		if err != nil {
			return err
		}
		return g.AuthorizeEgress(rules)
	})
}

// RevokeSecurityGroupEgress removes outbound rules from a group, as
// RevokeSecurityGroupIngress removes inbound ones. Revoking
// network.DefaultEgressRule from a group without other outbound rules
// leaves its tasks no outbound connection but to their DNS server.
func (o *Orchestrator) RevokeSecurityGroupEgress(ctx context.Context, group string, rules []network.EgressRule) (*network.SecurityGroup, error) {
	return o.changeRules(ctx, group, func(refs *groupRefs, g *network.SecurityGroup) error {
		rules, err := refs.egress(rules)
		if err != nil {
			return err
		}
		return g.RevokeEgress(rules)
	})
}

// changeRules applies change to a group and gives the tasks in the group
// their new policies, in one transaction.
func (o *Orchestrator) changeRules(ctx context.Context, group string, change func(*groupRefs, *network.SecurityGroup) error) (*network.SecurityGroup, error) {
	if err := o.checkOpen(); err != nil {
		return nil, err
	}
	var out *network.SecurityGroup
	err := o.store.Update(ctx, func(tx store.Tx) error {
		cur, err := o.getSecurityGroup(tx, group)
		if err != nil {
			return err
		}
		refs, err := newGroupRefs(tx, nil)
		if err != nil {
			return err
		}
		next := cur.Copy()
		if err := change(refs, &next.SecurityGroup); err != nil {
			return err
		}
		out = next.SecurityGroup.Clone()
		if err := tx.Update(next); err != nil {
			return err
		}
		_, err = sgsync.Refresh(tx, func(t *state.Task) bool { return slices.Contains(t.SecurityGroups, next.ID) })
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteSecurityGroup deletes a group. It fails with an *InUseError
// (ErrInUse) while a task not yet STOPPED or a service (any of its
// deployments, or its rollback target) is in the group, or while a rule of
// another group names it (as AWS refuses to delete a referenced group;
// revoke those rules first).
func (o *Orchestrator) DeleteSecurityGroup(ctx context.Context, group string) error {
	if err := o.checkOpen(); err != nil {
		return err
	}
	return o.store.Update(ctx, func(tx store.Tx) error {
		g, err := o.getSecurityGroup(tx, group)
		if err != nil {
			return err
		}
		var users []string
		tasks, err := store.List[*state.Task](tx, state.KindTasks)
		if err != nil {
			return err
		}
		for _, t := range tasks {
			if t.LastStatus != task.Stopped && slices.Contains(t.SecurityGroups, g.ID) {
				users = append(users, "task "+t.ID())
			}
		}
		services, err := store.List[*state.Service](tx, state.KindServices)
		if err != nil {
			return err
		}
		for _, s := range services {
			if s.Status != service.StatusInactive && serviceUsesGroup(&s.Service, g.ID) {
				users = append(users, "service "+s.ObjectID())
			}
		}
		groups, err := store.List[*state.SecurityGroup](tx, state.KindSecurityGroups)
		if err != nil {
			return err
		}
		for _, other := range groups {
			if other.ID != g.ID && slices.Contains(other.ReferencedGroups(), g.ID) {
				users = append(users, fmt.Sprintf("security group %s (%s)", other.ID, other.Name))
			}
		}
		if len(users) > 0 {
			return &InUseError{Object: fmt.Sprintf("security group %s (%s)", g.ID, g.Name), UsedBy: users}
		}
		return tx.Delete(state.KindSecurityGroups, g.ID)
	})
}

// serviceUsesGroup reports whether a service, one of its deployments or its
// rollback target puts tasks in group id.
func serviceUsesGroup(s *service.Service, id string) bool {
	if slices.Contains(s.NetworkConfiguration.SecurityGroupIDs(), id) {
		return true
	}
	for _, d := range s.Deployments {
		if slices.Contains(d.NetworkConfiguration.SecurityGroupIDs(), id) {
			return true
		}
	}
	return s.LastCompleted != nil && slices.Contains(s.LastCompleted.NetworkConfiguration.SecurityGroupIDs(), id)
}

// getSecurityGroup finds a group by ID ("sg-...") or name.
func (o *Orchestrator) getSecurityGroup(tx store.ReadTx, ref string) (*state.SecurityGroup, error) {
	if strings.HasPrefix(ref, "sg-") {
		g, err := store.Get[*state.SecurityGroup](tx, state.KindSecurityGroups, ref)
		if errors.Is(err, store.ErrNotFound) {
			return nil, notFound("security group", ref)
		}
		return g, err
	}
	all, err := store.List[*state.SecurityGroup](tx, state.KindSecurityGroups)
	if err != nil {
		return nil, err
	}
	for _, g := range all {
		if g.Name == ref {
			return g, nil
		}
	}
	return nil, notFound("security group", ref)
}

// resolveNetworkConfiguration checks a request's network configuration
// against the task definition it is for and returns it with its security
// groups by ID (nil when it puts tasks in no group) and the ingress policy
// of those groups (nil when none). ECS allows a networkConfiguration with
// an awsvpcConfiguration only for awsvpc task definitions.
func (o *Orchestrator) resolveNetworkConfiguration(tx store.ReadTx, nc *task.NetworkConfiguration, def *task.TaskDefinition) (*task.NetworkConfiguration, *network.IngressPolicy, error) {
	return o.resolveLaunchNetwork(tx, nc, def, nil)
}

// resolveLaunchNetwork is resolveNetworkConfiguration for the launch of
// tasks whose resolv.conf is dns (nil: the host's): the policy resolves
// the rules that name groups to the groups' members as tx holds them, and
// lets the tasks reach the servers of dns (sgsync.Policy). It is the
// launcher's network resolver.
func (o *Orchestrator) resolveLaunchNetwork(tx store.ReadTx, nc *task.NetworkConfiguration, def *task.TaskDefinition, dns *network.DNSConfig) (*task.NetworkConfiguration, *network.IngressPolicy, error) {
	if nc == nil || nc.AwsvpcConfiguration == nil {
		return nil, nil, nil
	}
	if mode := def.EffectiveNetworkMode(); mode != task.NetworkAWSVPC {
		return nil, nil, invalid("networkConfiguration.awsvpcConfiguration",
			"is only valid for awsvpc task definitions; %s has networkMode %s", def.Ref(), mode)
	}
	refs := nc.AwsvpcConfiguration.SecurityGroups
	if len(refs) > task.MaxSecurityGroups {
		return nil, nil, invalid(fieldNetworkSecurityGroups, "at most %d security groups, got %d", task.MaxSecurityGroups, len(refs))
	}
	if len(refs) == 0 {
		return nil, nil, nil
	}
	var errs []error
	groups := make([]*network.SecurityGroup, 0, len(refs))
	ids := make([]string, 0, len(refs))
	for i, ref := range refs {
		field := fmt.Sprintf("%s[%d]", fieldNetworkSecurityGroups, i)
		if ref == "" {
			errs = append(errs, invalid(field, "must not be empty"))
			continue
		}
		g, err := o.getSecurityGroup(tx, ref)
		if errors.Is(err, ErrNotFound) {
			errs = append(errs, invalid(field, "no security group %q", ref))
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		if j := slices.Index(ids, g.ID); j >= 0 {
			errs = append(errs, invalid(field, "%q is %s, already named by %s[%d]", ref, g.ID, fieldNetworkSecurityGroups, j))
			continue
		}
		ids = append(ids, g.ID)
		groups = append(groups, &g.SecurityGroup)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	out := &task.NetworkConfiguration{AwsvpcConfiguration: &task.AwsvpcConfiguration{SecurityGroups: ids}}
	members, membersErr := sgsync.LazyMembers(tx)
	policy := sgsync.Policy(members, dns, groups...)
	if err := membersErr(); err != nil {
		return nil, nil, err
	}
	return out, policy, nil
}

// updateServiceNetwork applies UpdateService's network configuration (nil:
// unchanged) to s, whose primary deployment will run defRef, and reports
// whether the security groups change (which needs a new deployment).
func (o *Orchestrator) updateServiceNetwork(tx store.ReadTx, s *service.Service, nc *task.NetworkConfiguration, defRef string) (bool, error) {
	if nc == nil && defRef == s.TaskDefinition {
		return false, nil
	}
	if nc == nil {
		nc = s.NetworkConfiguration // checked again against the new definition
	}
	def, err := o.getTaskDefinition(tx, defRef)
	if err != nil {
		return false, err
	}
	resolved, _, err := o.resolveNetworkConfiguration(tx, nc, def.TaskDefinition)
	if err != nil {
		return false, err
	}
	changed := !resolved.Equal(s.NetworkConfiguration)
	if changed {
		s.NetworkConfiguration = resolved
	}
	return changed, nil
}

// FieldErrors returns the *FieldError values in err, which may join several
// (an invalid request is reported field by field), in order; none when err
// is nil or names no field. It is errdefs.FieldErrors.
func FieldErrors(err error) []*FieldError { return errdefs.FieldErrors(err) }
