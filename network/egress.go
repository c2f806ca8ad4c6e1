package network

import (
	"errors"
	"fmt"
	"net/netip"
)

// EgressRule allows outbound traffic of one protocol, to a port range of
// destination prefixes and of the tasks of destination security groups,
// like one outbound rule of an AWS security group.
type EgressRule struct {
	// Protocol is tcp, udp, icmp or all.
	Protocol Protocol `json:"protocol"`
	// FromPort and ToPort bound the destination ports (inclusive) for tcp
	// and udp; ToPort 0 means FromPort alone. Both are 0 for icmp and all.
	FromPort uint16 `json:"fromPort,omitempty"`
	ToPort   uint16 `json:"toPort,omitempty"`
	// Destinations are the IPv4 prefixes the task may connect to
	// (0.0.0.0/0 is any address). Host bits are ignored.
	Destinations []netip.Prefix `json:"destinations,omitempty"`
	// DestinationGroups are the IDs of security groups whose member tasks
	// the task may connect to. A rule needs at least one destination or
	// destination group. Only a SecurityGroup's rules name groups: in an
	// EgressPolicy they are resolved to Destinations.
	DestinationGroups []string `json:"destinationGroups,omitempty"`
}

// DefaultEgressRule is the outbound rule every new security group has, as
// in AWS: all traffic to any address. It can be revoked like any rule.
func DefaultEgressRule() EgressRule {
	return EgressRule{Protocol: ProtocolAll, Destinations: []netip.Prefix{netip.PrefixFrom(netip.IPv4Unspecified(), 0)}}
}

func (r EgressRule) generic() rule {
	return rule{proto: r.Protocol, from: r.FromPort, to: r.ToPort, prefixes: r.Destinations, groups: r.DestinationGroups}
}

func (r rule) egress() EgressRule {
	return EgressRule{Protocol: r.proto, FromPort: r.from, ToPort: r.to, Destinations: r.prefixes, DestinationGroups: r.groups}
}

func genericEgress(rs []EgressRule) []rule { return mapRules(rs, EgressRule.generic) }

func egressRules(rs []rule) []EgressRule { return mapRules(rs, rule.egress) }

func cloneEgressRules(rs []EgressRule) []EgressRule {
	return egressRules(cloneAll(genericEgress(rs)))
}

// PortRange returns the rule's inclusive destination port range; ToPort 0
// is read as FromPort.
func (r EgressRule) PortRange() (from, to uint16) {
	k := r.generic().key()
	return k.from, k.to
}

// Validate checks the rule and returns *errdefs.FieldError values wrapping
// ErrInvalid ("protocol", "destinations[1]", "destinationGroups[0]").
func (r EgressRule) Validate() error { return r.generic().validate(outbound) }

// String formats the rule as ParseEgressRule reads it, for example
// "tcp:443 to 0.0.0.0/0", "udp:53 to 10.0.0.2/32" or
// "tcp:5432 to sg-0a1b2c3d4e5f60718".
func (r EgressRule) String() string { return r.generic().format(outbound) }

// ParseEgressRule parses the String form of an outbound rule:
//
//	PROTOCOL[:PORT[-PORT]] to PEER[,PEER...]
//
// as ParseIngressRule reads an inbound one: a PEER starting with "sg-" is
// a destination group, any other an IPv4 prefix. The result is validated.
func ParseEgressRule(s string) (EgressRule, error) {
	r, err := parseRule(s, "egressRule", outbound)
	if err != nil {
		return EgressRule{}, err
	}
	return r.egress(), nil
}

// EgressPolicy is the outbound half of a task's policy (IngressPolicy.Egress):
// every outbound connection that no rule allows is dropped, so a policy
// without rules denies every outbound connection.
type EgressPolicy struct {
	// Rules are the outbound rules, with destinations only (no groups).
	Rules []EgressRule `json:"rules"`
}

// Clone returns a deep copy of p (nil for nil).
func (p *EgressPolicy) Clone() *EgressPolicy {
	if p == nil {
		return nil
	}
	return &EgressPolicy{Rules: cloneEgressRules(p.Rules)}
}

// Equal reports whether p and q are the same policy, rule for rule (nil
// equals only nil: unrestricted is not an empty policy).
func (p *EgressPolicy) Equal(q *EgressPolicy) bool {
	if p == nil || q == nil {
		return p == q
	}
	return equalRules(genericEgress(p.Rules), genericEgress(q.Rules))
}

// Validate checks every rule and that none names a group; errors are
// *errdefs.FieldError values such as "rules[1].destinations[0]".
func (p *EgressPolicy) Validate() error {
	if p == nil {
		return nil
	}
	var errs []error
	for i, r := range p.Rules {
		errs = append(errs, prefixField(fmt.Sprintf("rules[%d]", i), r.generic().validateResolved(outbound)))
	}
	return errors.Join(errs...)
}
