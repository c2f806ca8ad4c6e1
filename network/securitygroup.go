package network

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
)

// Limits of security groups, as AWS sets them.
const (
	// MaxSecurityGroupRules is how many permissions (one protocol and port
	// range with one peer: a prefix or a group) a security group holds in
	// each direction: 60 inbound and 60 outbound, as AWS's default quota.
	MaxSecurityGroupRules = 60
	// MaxSecurityGroupNameLen bounds a group's name and description.
	MaxSecurityGroupNameLen = 255
	// maxSecurityGroupIDDigits is the length of AWS's long group IDs
	// ("sg-" and 17 hexadecimal digits).
	maxSecurityGroupIDDigits = 17
)

// SecurityGroup is a named set of rules that tasks join, like an AWS
// security group: inbound rules (Rules) and outbound rules (EgressRules).
// A task in one or more groups accepts the inbound connections that any
// rule of any of its groups allows, and opens the outbound connections that
// any outbound rule allows, and no other (see ResolvePolicy).
//
// As in AWS, a group's rules are a set of permissions — one protocol and
// port range with one peer, a prefix or a security group: a rule with three
// sources is three permissions, AuthorizeIngress refuses a permission the
// group already has and RevokeIngress one it does not have (and
// AuthorizeEgress and RevokeEgress the same for outbound rules). Host bits
// of prefixes are ignored (10.0.0.7/8 is 10.0.0.0/8).
//
// A rule whose peer is a group (IngressRule.SourceGroups,
// EgressRule.DestinationGroups) stands for the addresses of the group's
// member tasks at each moment. The group holds only the reference; whoever
// makes a task's policy resolves it (ResolvePolicy) and makes the policy
// again when the members change.
type SecurityGroup struct {
	// ID is the group's identifier, "sg-" and hexadecimal digits.
	ID string `json:"groupId"`
	// Name is 1 to 255 printable ASCII characters and does not start with
	// "sg-".
	Name string `json:"groupName"`
	// Description is up to 255 printable ASCII characters.
	Description string `json:"description,omitempty"`
	// Rules are the inbound rules, one per protocol and port range.
	Rules []IngressRule `json:"ingressRules"`
	// EgressRules are the outbound rules, one per protocol and port range.
	// A new group (NewSecurityGroup) has DefaultEgressRule, all traffic to
	// any address, which can be revoked as in AWS. Nil stands for that
	// default rule too (a group made as a literal, or stored before groups
	// had outbound rules): use Egress to read the rules in force. An
	// empty, non-nil list allows no outbound connection.
	EgressRules []EgressRule `json:"egressRules"`
}

// NewSecurityGroup returns a group with an ID, a name, a description, no
// inbound rule and the default outbound rule, as AWS creates one. It does
// not validate them: call Validate.
func NewSecurityGroup(id, name, description string) *SecurityGroup {
	return &SecurityGroup{ID: id, Name: name, Description: description, EgressRules: []EgressRule{DefaultEgressRule()}}
}

// Egress returns the outbound rules in force: EgressRules, or
// DefaultEgressRule when EgressRules is nil. The result is the group's
// own slice when it has one; clone it before changing it.
func (g *SecurityGroup) Egress() []EgressRule {
	if g.EgressRules == nil {
		return []EgressRule{DefaultEgressRule()}
	}
	return g.EgressRules
}

// Clone returns a deep copy of g.
func (g *SecurityGroup) Clone() *SecurityGroup {
	if g == nil {
		return nil
	}
	out := *g
	out.Rules = cloneRules(g.Rules)
	out.EgressRules = cloneEgressRules(g.EgressRules)
	return &out
}

// Validate checks the group's name, description and rules, and returns
// every problem as an *errdefs.FieldError ("groupName", "ingressRules[1].sources[0]",
// "egressRules[0].destinationGroups[1]"). The rules must be valid, hold no
// permission twice and at most MaxSecurityGroupRules permissions in each
// direction.
func (g *SecurityGroup) Validate() error {
	var errs []error
	if err := ValidateSecurityGroupName(g.Name); err != nil {
		errs = append(errs, err)
	}
	if err := checkText("description", g.Description, false); err != nil {
		errs = append(errs, err)
	}
	_, err := mergePermissions(nil, genericIngress(g.Rules), inbound)
	errs = append(errs, err)
	_, err = mergePermissions(nil, genericEgress(g.EgressRules), outbound)
	return errors.Join(append(errs, err)...)
}

// ValidateSecurityGroupName checks a group name: 1 to 255 printable ASCII
// characters, not starting with "sg-" (which would read as an ID).
func ValidateSecurityGroupName(name string) error {
	if err := checkText("groupName", name, true); err != nil {
		return err
	}
	if strings.HasPrefix(strings.ToLower(name), "sg-") {
		return fieldErr("groupName", "%q: a name cannot start with sg- (IDs do)", name)
	}
	return nil
}

// ValidateSecurityGroupID checks that id reads as a group ID: "sg-" and 1
// to 17 lowercase hexadecimal digits. Rules name groups by ID; a caller
// that takes names resolves them first.
func ValidateSecurityGroupID(id string) error { return checkGroupID("groupId", id) }

func checkGroupID(field, id string) error {
	digits, ok := strings.CutPrefix(id, "sg-")
	if !ok || digits == "" || len(digits) > maxSecurityGroupIDDigits {
		return fieldErr(field, "%q is not a security group ID (sg- and 1 to %d hexadecimal digits)", truncate(id, 64), maxSecurityGroupIDDigits)
	}
	for i := 0; i < len(digits); i++ {
		if c := digits[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return fieldErr(field, "%q is not a security group ID (sg- and 1 to %d lowercase hexadecimal digits)", id, maxSecurityGroupIDDigits)
		}
	}
	return nil
}

// truncate returns s cut to n bytes, marked with "..." when cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func checkText(field, s string, required bool) error {
	if s == "" && required {
		return fieldErr(field, "must not be empty")
	}
	if len(s) > MaxSecurityGroupNameLen {
		return fieldErr(field, "%d characters, at most %d allowed", len(s), MaxSecurityGroupNameLen)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c >= 0x7f {
			return fieldErr(field, "%q: only printable ASCII characters are allowed", s)
		}
	}
	return nil
}

// AuthorizeIngress adds inbound rules to the group. Every rule must be
// valid and every permission new (not in the group nor twice in rules);
// otherwise the group is left as it was and the error names each offending
// rule as "ingressRules[i]..." of rules.
func (g *SecurityGroup) AuthorizeIngress(rules []IngressRule) error {
	merged, err := mergePermissions(genericIngress(g.Rules), genericIngress(rules), inbound)
	if err != nil {
		return err
	}
	g.Rules = ingressRules(merged)
	return nil
}

// RevokeIngress removes inbound rules from the group. Every rule must be
// valid and every permission in the group; otherwise the group is left as
// it was and the error names each offending rule as "ingressRules[i]..." of
// rules. Rules left without a peer are dropped.
func (g *SecurityGroup) RevokeIngress(rules []IngressRule) error {
	out, err := revokePermissions(genericIngress(g.Rules), genericIngress(rules), inbound)
	if err != nil {
		return err
	}
	g.Rules = ingressRules(out)
	return nil
}

// AuthorizeEgress adds outbound rules to the group, as AuthorizeIngress
// adds inbound ones; errors name the rules as "egressRules[i]...". A
// group that still has the default rule keeps it: as in AWS, revoke it to
// restrict the group's outbound traffic to the rules added.
func (g *SecurityGroup) AuthorizeEgress(rules []EgressRule) error {
	merged, err := mergePermissions(genericEgress(g.Egress()), genericEgress(rules), outbound)
	if err != nil {
		return err
	}
	g.EgressRules = egressRules(merged)
	return nil
}

// RevokeEgress removes outbound rules from the group, as RevokeIngress
// removes inbound ones; errors name the rules as "egressRules[i]...".
// Revoking DefaultEgressRule of a group without other outbound rules
// leaves it allowing no outbound connection.
func (g *SecurityGroup) RevokeEgress(rules []EgressRule) error {
	out, err := revokePermissions(genericEgress(g.Egress()), genericEgress(rules), outbound)
	if err != nil {
		return err
	}
	g.EgressRules = egressRules(out)
	if g.EgressRules == nil {
		g.EgressRules = []EgressRule{} // nil would read as the default rule
	}
	return nil
}

// Permissions counts the group's inbound permissions (rule peers).
func (g *SecurityGroup) Permissions() int { return countPermissions(genericIngress(g.Rules)) }

// EgressPermissions counts the group's outbound permissions (rule peers),
// the default rule included.
func (g *SecurityGroup) EgressPermissions() int { return countPermissions(genericEgress(g.Egress())) }

// ReferencedGroups returns the IDs of the groups that g's rules name as
// sources or destinations, sorted, each once. A task's policy depends on
// the members of these groups: when one of them gains or loses a task (or
// a member's address changes), the policies of the tasks in g are to be
// made again (ResolvePolicy) and applied.
func (g *SecurityGroup) ReferencedGroups() []string {
	var ids []string
	for _, r := range genericIngress(g.Rules) {
		ids = append(ids, r.groups...)
	}
	for _, r := range genericEgress(g.EgressRules) {
		ids = append(ids, r.groups...)
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// GroupMembers returns the addresses of the tasks that are members of a
// security group, for resolving rules that name the group. Only IPv4
// addresses are used; their order does not matter.
type GroupMembers func(groupID string) []netip.Addr

// ResolvePolicy returns the policy of a task in groups: the union of their
// rules, each permission once, in each direction, with every rule that
// names a group resolved to the /32 prefixes of the group's members as
// members reports them (nil members: no group has a member). A rule left
// without any address matches nothing and is left out.
//
// The result is nil without groups (no filtering). Otherwise it denies
// every inbound connection the groups' inbound rules do not allow; its
// Egress is nil (unrestricted) when a group allows all outbound traffic to
// 0.0.0.0/0, as the default rule does, and otherwise allows only what the
// outbound rules allow.
//
// The caller owns the resolution: when the members of a group referenced
// by one of the groups (SecurityGroup.ReferencedGroups) change, it
// resolves the policy again and applies it to the task (for example with
// IngressUpdater.UpdateIngress), which otherwise keeps the addresses it
// was given.
func ResolvePolicy(members GroupMembers, groups ...*SecurityGroup) *IngressPolicy {
	if len(groups) == 0 {
		return nil
	}
	in, out := []rule{}, []rule{}
	for _, g := range groups {
		in = union(in, genericIngress(g.Rules), members)
		out = union(out, genericEgress(g.Egress()), members)
	}
	p := &IngressPolicy{Rules: ingressRules(in)}
	anywhere := netip.PrefixFrom(netip.IPv4Unspecified(), 0)
	if !slices.ContainsFunc(out, func(r rule) bool { return r.proto == ProtocolAll && slices.Contains(r.prefixes, anywhere) }) {
		p.Egress = &EgressPolicy{Rules: egressRules(out)}
	}
	return p
}

// PolicyOf returns the policy of a task in groups whose rules name no
// group, or ignoring the rules that do: ResolvePolicy(nil, groups...).
func PolicyOf(groups ...*SecurityGroup) *IngressPolicy { return ResolvePolicy(nil, groups...) }
