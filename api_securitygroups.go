package stevedore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/stevedore-io/stevedore/internal/launch"
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

// CreateSecurityGroup creates a security group, the set of inbound rules
// that tasks join through the networkConfiguration of RunTask, StartTask,
// CreateService and UpdateService. The group gets an ID ("sg-" and 17
// hexadecimal digits); calls name a group by its ID or its name. Invalid
// input is reported as *FieldError values ("groupName",
// "ingressRules[1].sources[0]"), joined when there are several; a name in
// use is ErrAlreadyExists.
func (o *Orchestrator) CreateSecurityGroup(ctx context.Context, in CreateSecurityGroupInput) (*network.SecurityGroup, error) {
	if err := o.checkOpen(); err != nil {
		return nil, err
	}
	g := &network.SecurityGroup{ID: "sg-" + launch.RandomHex(17), Name: in.GroupName, Description: in.Description}
	// Validate checks the name and description (the group has no rule
	// yet); AuthorizeIngress checks and normalises the rules.
	if err := fieldErrors(errors.Join(g.Validate(), g.AuthorizeIngress(in.IngressRules))); err != nil {
		return nil, err
	}
	err := o.store.Update(ctx, func(tx store.Tx) error {
		all, err := store.List[*state.SecurityGroup](tx, state.KindSecurityGroups)
		if err != nil {
			return err
		}
		for _, other := range all {
			if other.Name == g.Name {
				return fmt.Errorf("%w: security group %q (%s)", ErrAlreadyExists, g.Name, other.ID)
			}
		}
		return tx.Create(&state.SecurityGroup{SecurityGroup: *g.Clone()})
	})
	if err != nil {
		return nil, err
	}
	return g, nil
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
// permission (protocol and ports from one source prefix) must be new;
// otherwise, or when a rule is invalid, the call changes nothing and its
// *FieldError values name the rules ("ingressRules[0].sources[1]").
//
// As in AWS, the change applies to the group's tasks already running too:
// each task not yet STOPPED gets the new union of its groups' rules, which
// its agent applies in place when the instance's network provider
// implements network.IngressUpdater (network/netlinux and network/fake do);
// with another provider a running task keeps the rules it started with.
func (o *Orchestrator) AuthorizeSecurityGroupIngress(ctx context.Context, group string, rules []network.IngressRule) (*network.SecurityGroup, error) {
	return o.changeIngress(ctx, group, func(g *network.SecurityGroup) error { return g.AuthorizeIngress(rules) })
}

// RevokeSecurityGroupIngress removes inbound rules from a group. Each
// permission must be in the group; otherwise, or when a rule is invalid,
// the call changes nothing and its *FieldError values name the rules. The
// group's running tasks lose the rules as AuthorizeSecurityGroupIngress
// describes.
func (o *Orchestrator) RevokeSecurityGroupIngress(ctx context.Context, group string, rules []network.IngressRule) (*network.SecurityGroup, error) {
	return o.changeIngress(ctx, group, func(g *network.SecurityGroup) error { return g.RevokeIngress(rules) })
}

func (o *Orchestrator) changeIngress(ctx context.Context, group string, change func(*network.SecurityGroup) error) (*network.SecurityGroup, error) {
	if err := o.checkOpen(); err != nil {
		return nil, err
	}
	var out *network.SecurityGroup
	err := o.store.Update(ctx, func(tx store.Tx) error {
		cur, err := o.getSecurityGroup(tx, group)
		if err != nil {
			return err
		}
		next := cur.Copy()
		if err := fieldErrors(change(&next.SecurityGroup)); err != nil {
			return err
		}
		out = next.SecurityGroup.Clone()
		if err := tx.Update(next); err != nil {
			return err
		}
		return o.refreshTaskIngress(tx, next)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// refreshTaskIngress gives every task in changed that is not STOPPED the
// union of its groups' rules as they are now.
func (o *Orchestrator) refreshTaskIngress(tx store.Tx, changed *state.SecurityGroup) error {
	tasks, err := store.List[*state.Task](tx, state.KindTasks)
	if err != nil {
		return err
	}
	for _, t := range tasks {
		if t.LastStatus == task.Stopped || !slices.Contains(t.SecurityGroups, changed.ID) {
			continue
		}
		groups := make([]*network.SecurityGroup, 0, len(t.SecurityGroups))
		for _, id := range t.SecurityGroups {
			if id == changed.ID {
				groups = append(groups, &changed.SecurityGroup)
				continue
			}
			g, err := store.Get[*state.SecurityGroup](tx, state.KindSecurityGroups, id)
			if errors.Is(err, store.ErrNotFound) {
				continue // cannot happen: a group in use is not deleted
			}
			if err != nil {
				return err
			}
			groups = append(groups, &g.SecurityGroup)
		}
		policy := network.PolicyOf(groups...)
		if policy.Equal(t.Ingress) {
			continue
		}
		next := t.Copy()
		next.Ingress = policy
		if err := tx.Update(next); err != nil {
			return err
		}
	}
	return nil
}

// DeleteSecurityGroup deletes a group. It fails with an *InUseError
// (ErrInUse) while a task not yet STOPPED or a service (any of its
// deployments, or its rollback target) is in the group.
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
	return out, network.PolicyOf(groups...), nil
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

// fieldErrors converts the *network.FieldError values in err (joined ones
// included) into *FieldError values of the API (matching ErrInvalid),
// keeping the others.
func fieldErrors(err error) error {
	errs := flatten(err)
	for i, e := range errs {
		var fe *network.FieldError
		if errors.As(e, &fe) {
			errs[i] = &FieldError{Field: fe.Field, Rule: fe.Reason}
		}
	}
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return errors.Join(errs...)
}

// FieldErrors returns the *FieldError values in err, which may join several
// (an invalid security group or rule list is reported field by field), in
// order; none when err is nil or names no field.
func FieldErrors(err error) []*FieldError {
	var out []*FieldError
	for _, e := range flatten(err) {
		var fe *FieldError
		if errors.As(e, &fe) {
			out = append(out, fe)
		}
	}
	return out
}

// flatten lists the errors joined in err, depth first (err itself when it
// joins none; nothing for nil).
func flatten(err error) []error {
	if err == nil {
		return nil
	}
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range j.Unwrap() {
		out = append(out, flatten(e)...)
	}
	return out
}
