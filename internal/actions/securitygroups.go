package actions

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/stevedore-io/stevedore/api"
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

// CreateSecurityGroup creates a security group, the set of rules that tasks
// join through the networkConfiguration of RunTask, StartTask, CreateService
// and UpdateService. Orchestrator.CreateSecurityGroup documents it.
func (a *Actions) CreateSecurityGroup(ctx context.Context, in api.CreateSecurityGroupInput) (*api.CreateSecurityGroupOutput, error) {
	if err := a.checkOpen(); err != nil {
		return nil, err
	}
	var out *network.SecurityGroup
	err := a.store.Update(ctx, func(tx store.Tx) error {
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
			return fmt.Errorf("%w: security group %q (%s)", api.ErrAlreadyExists, g.Name, other.ID)
		}
		out = g.Clone()
		return tx.Create(&state.SecurityGroup{SecurityGroup: *g})
	})
	if err != nil {
		return nil, err
	}
	return &api.CreateSecurityGroupOutput{SecurityGroup: *out}, nil
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
func (a *Actions) DescribeSecurityGroups(ctx context.Context, in api.DescribeSecurityGroupsInput) (*api.DescribeSecurityGroupsOutput, error) {
	groups := in.GroupIDs
	var out []network.SecurityGroup
	err := a.store.View(ctx, func(tx store.ReadTx) error {
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
			g, err := getSecurityGroup(tx, ref)
			if err != nil {
				return err
			}
			out = append(out, *g.SecurityGroup.Clone())
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &api.DescribeSecurityGroupsOutput{SecurityGroups: out}, nil
}

// changeRuleList changes the rules of group groupID: resolve names the
// rules' groups by ID, apply changes the group with them.
func changeRuleList[R any](ctx context.Context, a *Actions, groupID string, rules []R,
	resolve func(*groupRefs, []R) ([]R, error), apply func(*network.SecurityGroup, []R) error) (network.SecurityGroup, error) {
	if groupID == "" {
		return network.SecurityGroup{}, invalid("groupId", "is required")
	}
	g, err := a.changeRules(ctx, groupID, func(refs *groupRefs, g *network.SecurityGroup) error {
		resolved, err := resolve(refs, rules)
		if err != nil {
			return err
		}
		return apply(g, resolved)
	})
	if err != nil {
		return network.SecurityGroup{}, err
	}
	return *g, nil
}

// AuthorizeSecurityGroupIngress adds inbound rules to a group.
// Orchestrator.AuthorizeSecurityGroupIngress documents it.
func (a *Actions) AuthorizeSecurityGroupIngress(ctx context.Context, in api.AuthorizeSecurityGroupIngressInput) (*api.AuthorizeSecurityGroupIngressOutput, error) {
	g, err := changeRuleList(ctx, a, in.GroupID, in.Rules, (*groupRefs).ingress, (*network.SecurityGroup).AuthorizeIngress)
	if err != nil {
		return nil, err
	}
	return &api.AuthorizeSecurityGroupIngressOutput{SecurityGroup: g}, nil
}

// RevokeSecurityGroupIngress removes inbound rules from a group.
// Orchestrator.RevokeSecurityGroupIngress documents it.
func (a *Actions) RevokeSecurityGroupIngress(ctx context.Context, in api.RevokeSecurityGroupIngressInput) (*api.RevokeSecurityGroupIngressOutput, error) {
	g, err := changeRuleList(ctx, a, in.GroupID, in.Rules, (*groupRefs).ingress, (*network.SecurityGroup).RevokeIngress)
	if err != nil {
		return nil, err
	}
	return &api.RevokeSecurityGroupIngressOutput{SecurityGroup: g}, nil
}

// AuthorizeSecurityGroupEgress adds outbound rules to a group, as
// AuthorizeSecurityGroupIngress adds inbound ones: destination groups are
// named by ID or name, and errors name the rules ("egressRules[0].toPort",
// "egressRules[1].destinationGroups[0]").
// Orchestrator.AuthorizeSecurityGroupEgress documents it.
func (a *Actions) AuthorizeSecurityGroupEgress(ctx context.Context, in api.AuthorizeSecurityGroupEgressInput) (*api.AuthorizeSecurityGroupEgressOutput, error) {
	g, err := changeRuleList(ctx, a, in.GroupID, in.Rules, (*groupRefs).egress, (*network.SecurityGroup).AuthorizeEgress)
	if err != nil {
		return nil, err
	}
	return &api.AuthorizeSecurityGroupEgressOutput{SecurityGroup: g}, nil
}

// RevokeSecurityGroupEgress removes outbound rules from a group, as
// RevokeSecurityGroupIngress removes inbound ones.
// Orchestrator.RevokeSecurityGroupEgress documents it.
func (a *Actions) RevokeSecurityGroupEgress(ctx context.Context, in api.RevokeSecurityGroupEgressInput) (*api.RevokeSecurityGroupEgressOutput, error) {
	g, err := changeRuleList(ctx, a, in.GroupID, in.Rules, (*groupRefs).egress, (*network.SecurityGroup).RevokeEgress)
	if err != nil {
		return nil, err
	}
	return &api.RevokeSecurityGroupEgressOutput{SecurityGroup: g}, nil
}

// changeRules applies change to a group and gives the tasks in the group
// their new policies, in one transaction.
func (a *Actions) changeRules(ctx context.Context, group string, change func(*groupRefs, *network.SecurityGroup) error) (*network.SecurityGroup, error) {
	if err := a.checkOpen(); err != nil {
		return nil, err
	}
	var out *network.SecurityGroup
	err := a.store.Update(ctx, func(tx store.Tx) error {
		cur, err := getSecurityGroup(tx, group)
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

// DeleteSecurityGroup deletes a group. Orchestrator.DeleteSecurityGroup
// documents it.
func (a *Actions) DeleteSecurityGroup(ctx context.Context, in api.DeleteSecurityGroupInput) (*api.DeleteSecurityGroupOutput, error) {
	if in.GroupID == "" {
		return nil, invalid("groupId", "is required")
	}
	group := in.GroupID
	if err := a.checkOpen(); err != nil {
		return nil, err
	}
	err := a.store.Update(ctx, func(tx store.Tx) error {
		g, err := getSecurityGroup(tx, group)
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
			return &api.InUseError{Object: fmt.Sprintf("security group %s (%s)", g.ID, g.Name), UsedBy: users}
		}
		return tx.Delete(state.KindSecurityGroups, g.ID)
	})
	if err != nil {
		return nil, err
	}
	return &api.DeleteSecurityGroupOutput{}, nil
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
func getSecurityGroup(tx store.ReadTx, ref string) (*state.SecurityGroup, error) {
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
func (a *Actions) resolveNetworkConfiguration(tx store.ReadTx, nc *task.NetworkConfiguration, def *task.TaskDefinition) (*task.NetworkConfiguration, *network.IngressPolicy, error) {
	return ResolveLaunchNetwork(tx, nc, def, nil)
}

// ResolveLaunchNetwork is resolveNetworkConfiguration for the launch of
// tasks whose resolv.conf is dns (nil: the host's): the policy resolves
// the rules that name groups to the groups' members as tx holds them, and
// lets the tasks reach the servers of dns (sgsync.Policy). It is the
// launcher's network resolver.
func ResolveLaunchNetwork(tx store.ReadTx, nc *task.NetworkConfiguration, def *task.TaskDefinition, dns *network.DNSConfig) (*task.NetworkConfiguration, *network.IngressPolicy, error) {
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
		g, err := getSecurityGroup(tx, ref)
		if errors.Is(err, api.ErrNotFound) {
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
func (a *Actions) updateServiceNetwork(tx store.ReadTx, s *service.Service, nc *task.NetworkConfiguration, defRef string) (bool, error) {
	if nc == nil && defRef == s.TaskDefinition {
		return false, nil
	}
	if nc == nil {
		nc = s.NetworkConfiguration // checked again against the new definition
	}
	def, err := a.getTaskDefinition(tx, defRef)
	if err != nil {
		return false, err
	}
	resolved, _, err := a.resolveNetworkConfiguration(tx, nc, def.TaskDefinition)
	if err != nil {
		return false, err
	}
	changed := !resolved.Equal(s.NetworkConfiguration)
	if changed {
		s.NetworkConfiguration = resolved
	}
	return changed, nil
}
