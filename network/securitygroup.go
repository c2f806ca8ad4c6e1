package network

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Limits of security groups, as AWS sets them.
const (
	// MaxSecurityGroupRules is how many permissions (one protocol and port
	// range from one source prefix) a security group holds.
	MaxSecurityGroupRules = 60
	// MaxSecurityGroupNameLen bounds a group's name and description.
	MaxSecurityGroupNameLen = 255
)

// SecurityGroup is a named set of ingress rules that tasks join, like an
// AWS security group's inbound rules. A task in one or more groups accepts
// the inbound connections that any rule of any of its groups allows, and no
// other (see PolicyOf and IngressPolicy).
//
// As in AWS, a group's rules are a set of permissions — one protocol and
// port range from one source prefix: a rule with three sources is three
// permissions, AuthorizeIngress refuses a permission the group already has
// and RevokeIngress one it does not have. Host bits of source prefixes are
// ignored (10.0.0.7/8 is 10.0.0.0/8).
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
}

// Clone returns a deep copy of g.
func (g *SecurityGroup) Clone() *SecurityGroup {
	if g == nil {
		return nil
	}
	out := *g
	out.Rules = cloneRules(g.Rules)
	return &out
}

func cloneRules(rules []IngressRule) []IngressRule {
	if rules == nil {
		return nil
	}
	out := make([]IngressRule, len(rules))
	for i, r := range rules {
		out[i] = r
		out[i].Sources = slices.Clone(r.Sources)
	}
	return out
}

// Validate checks the group's name, description and rules, and returns
// every problem as a *FieldError ("groupName", "ingressRules[1].sources[0]").
// The rules must be valid, hold no permission twice and at most
// MaxSecurityGroupRules permissions.
func (g *SecurityGroup) Validate() error {
	var errs []error
	if err := ValidateSecurityGroupName(g.Name); err != nil {
		errs = append(errs, err)
	}
	if err := checkText("description", g.Description, false); err != nil {
		errs = append(errs, err)
	}
	_, err := mergePermissions(nil, g.Rules, "ingressRules")
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

// AuthorizeIngress adds rules to the group. Every rule must be valid and
// every permission new (not in the group nor twice in rules); otherwise the
// group is left as it was and the error names each offending rule as
// "ingressRules[i]..." of rules.
func (g *SecurityGroup) AuthorizeIngress(rules []IngressRule) error {
	merged, err := mergePermissions(g.Rules, rules, "ingressRules")
	if err != nil {
		return err
	}
	g.Rules = merged
	return nil
}

// RevokeIngress removes rules from the group. Every rule must be valid and
// every permission in the group; otherwise the group is left as it was and
// the error names each offending rule as "ingressRules[i]..." of rules.
// Rules left without a source are dropped.
func (g *SecurityGroup) RevokeIngress(rules []IngressRule) error {
	var errs []error
	for i, r := range rules {
		errs = append(errs, prefixField(fmt.Sprintf("ingressRules[%d]", i), r.Validate()))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	out := cloneRules(g.Rules)
	for i, r := range rules {
		k := keyOf(r)
		for j, src := range r.Sources {
			src = src.Masked()
			at := slices.IndexFunc(out, func(x IngressRule) bool { return keyOf(x) == k })
			n := -1
			if at >= 0 {
				n = slices.Index(out[at].Sources, src)
			}
			if n < 0 {
				errs = append(errs, fieldErr(fmt.Sprintf("ingressRules[%d].sources[%d]", i, j), "%s is not authorized", permString(k, src)))
				continue
			}
			out[at].Sources = slices.Delete(out[at].Sources, n, n+1)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	g.Rules = slices.DeleteFunc(out, func(r IngressRule) bool { return len(r.Sources) == 0 })
	return nil
}

// Permissions counts the group's permissions (rule sources).
func (g *SecurityGroup) Permissions() int {
	n := 0
	for _, r := range g.Rules {
		n += len(r.Sources)
	}
	return n
}

// PolicyOf returns the ingress policy of a task in groups: the union of
// their rules, each permission once. It is nil without groups (no
// filtering) and an empty policy when the groups have no rule (every
// inbound connection is dropped).
func PolicyOf(groups ...*SecurityGroup) *IngressPolicy {
	if len(groups) == 0 {
		return nil
	}
	p := &IngressPolicy{Rules: []IngressRule{}}
	for _, g := range groups {
		for _, r := range g.Rules {
			k := keyOf(r)
			at := slices.IndexFunc(p.Rules, func(x IngressRule) bool { return keyOf(x) == k })
			if at < 0 {
				p.Rules = append(p.Rules, normalized(r, nil))
				at = len(p.Rules) - 1
			}
			for _, src := range r.Sources {
				if src = src.Masked(); !slices.Contains(p.Rules[at].Sources, src) {
					p.Rules[at].Sources = append(p.Rules[at].Sources, src)
				}
			}
		}
	}
	return p
}

// permKey is the protocol and port range of a rule.
type permKey struct {
	proto    Protocol
	from, to uint16
}

func keyOf(r IngressRule) permKey {
	from, to := r.PortRange()
	return permKey{r.Protocol, from, to}
}

func permString(k permKey, src netip.Prefix) string {
	r := IngressRule{Protocol: k.proto, FromPort: k.from, ToPort: k.to, Sources: []netip.Prefix{src}}
	return r.String()
}

// normalized returns r with sources (masked), ToPort 0 for a single port.
func normalized(r IngressRule, sources []netip.Prefix) IngressRule {
	k := keyOf(r)
	out := IngressRule{Protocol: k.proto, FromPort: k.from, Sources: sources}
	if k.to != k.from {
		out.ToPort = k.to
	}
	return out
}

// mergePermissions returns a copy of have with the permissions of add,
// after checking that add's rules are valid and add no permission twice,
// and that the result stays within MaxSecurityGroupRules. Errors name the
// rules of add as field[i].
func mergePermissions(have, add []IngressRule, field string) ([]IngressRule, error) {
	var errs []error
	for i, r := range add {
		errs = append(errs, prefixField(fmt.Sprintf("%s[%d]", field, i), r.Validate()))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	out := cloneRules(have)
	for i, r := range add {
		k := keyOf(r)
		at := slices.IndexFunc(out, func(x IngressRule) bool { return keyOf(x) == k })
		if at < 0 {
			out = append(out, normalized(r, nil))
			at = len(out) - 1
		}
		for j, src := range r.Sources {
			if src = src.Masked(); slices.Contains(out[at].Sources, src) {
				errs = append(errs, fieldErr(fmt.Sprintf("%s[%d].sources[%d]", field, i, j), "%s is already authorized", permString(k, src)))
				continue
			}
			out[at].Sources = append(out[at].Sources, src)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	g := SecurityGroup{Rules: out}
	if n := g.Permissions(); n > MaxSecurityGroupRules {
		return nil, fieldErr(field, "%d permissions (rule sources), at most %d allowed in a group", n, MaxSecurityGroupRules)
	}
	return out, nil
}
