package network

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// IngressPolicy is a task's security-group policy, what the task's
// network enforces: its inbound Rules and, when Egress is set, its outbound
// rules. (It is named for the inbound rules, which it held alone at
// first.) A nil *IngressPolicy means no filtering at all, in either
// direction; an IngressPolicy without rules denies every inbound
// connection, and with a nil Egress allows every outbound one.
//
// Whatever the rules, packets of connections already allowed (conntrack
// established/related: replies to the task's outbound connections, and to
// inbound ones) and traffic on the task's loopback are always allowed, and
// IPv6 is always dropped (tasks are IPv4-only). Nothing else is implicit:
// with egress restricted, a task reaches its DNS resolver only if a rule
// allows it. (AWS exempts its own resolver at the VPC's base address + 2
// from security groups; here the policy's maker does it with an ordinary
// rule, such as "udp:53 to 10.88.0.1", as Stevedore's Orchestrator does
// for the DNS server it gives a task.)
//
// A policy holds addresses only: the rules of a group that name another
// group (SourceGroups, DestinationGroups) are resolved to the /32 prefixes
// of that group's members when the policy is made (ResolvePolicy). The
// caller resolves them, and makes and applies the policy again whenever
// the membership of a referenced group changes (see
// SecurityGroup.ReferencedGroups).
type IngressPolicy struct {
	// Rules are the inbound rules.
	Rules []IngressRule `json:"rules"`
	// Egress filters outbound traffic; nil allows all of it, like a group
	// with the default outbound rule.
	Egress *EgressPolicy `json:"egress,omitempty"`
}

// Clone returns a deep copy of p (nil for nil).
func (p *IngressPolicy) Clone() *IngressPolicy {
	if p == nil {
		return nil
	}
	return &IngressPolicy{Rules: cloneRules(p.Rules), Egress: p.Egress.Clone()}
}

// Equal reports whether p and q are the same policy, rule for rule (nil
// equals only nil: no filtering is not an empty policy).
func (p *IngressPolicy) Equal(q *IngressPolicy) bool {
	if p == nil || q == nil {
		return p == q
	}
	return equalRules(genericIngress(p.Rules), genericIngress(q.Rules)) && p.Egress.Equal(q.Egress)
}

// Validate checks every rule, in both directions, and that no rule names a
// group (a policy's references are resolved). Errors are *errdefs.FieldError values
// such as "rules[1].sources[0]" and "egress.rules[0].toPort".
func (p *IngressPolicy) Validate() error {
	if p == nil {
		return nil
	}
	var errs []error
	for i, r := range p.Rules {
		errs = append(errs, prefixField(fmt.Sprintf("rules[%d]", i), r.generic().validateResolved(inbound)))
	}
	errs = append(errs, prefixField("egress", p.Egress.Validate()))
	return errors.Join(errs...)
}

// AllowsInbound reports whether the policy lets a connection of proto
// from src reach port of the task (port is ignored for icmp and all). A
// nil policy allows everything. It is the reference semantics of the
// policy, which network/fake enforces with it.
func (p *IngressPolicy) AllowsInbound(src netip.Addr, proto Protocol, port uint16) bool {
	return p == nil || allows(genericIngress(p.Rules), src, proto, port)
}

// AllowsOutbound reports whether the policy lets the task open a
// connection of proto to port of dst: always without a policy or with a
// nil Egress.
func (p *IngressPolicy) AllowsOutbound(dst netip.Addr, proto Protocol, port uint16) bool {
	return p == nil || p.Egress == nil || allows(genericEgress(p.Egress.Rules), dst, proto, port)
}

// IngressRule allows inbound traffic of one protocol, on a port range, from
// source prefixes and from the tasks of source security groups, like one
// inbound rule of an AWS security group.
type IngressRule struct {
	// Protocol is tcp, udp, icmp or all.
	Protocol Protocol `json:"protocol"`
	// FromPort and ToPort bound the destination ports (inclusive) for tcp
	// and udp; ToPort 0 means FromPort alone. Both are 0 for icmp and all.
	FromPort uint16 `json:"fromPort,omitempty"`
	ToPort   uint16 `json:"toPort,omitempty"`
	// Sources are the IPv4 prefixes allowed to connect (0.0.0.0/0 allows
	// any source). Host bits are ignored.
	Sources []netip.Prefix `json:"sources"`
	// SourceGroups are the IDs of security groups whose member tasks are
	// allowed to connect, as in an AWS rule whose source is a group. A
	// rule needs at least one source or source group. Only a
	// SecurityGroup's rules name groups: in an IngressPolicy they are
	// resolved to Sources.
	SourceGroups []string `json:"sourceGroups,omitempty"`
}

func (r IngressRule) generic() rule {
	return rule{proto: r.Protocol, from: r.FromPort, to: r.ToPort, prefixes: r.Sources, groups: r.SourceGroups}
}

func (r rule) ingress() IngressRule {
	return IngressRule{Protocol: r.proto, FromPort: r.from, ToPort: r.to, Sources: r.prefixes, SourceGroups: r.groups}
}

func genericIngress(rs []IngressRule) []rule { return mapRules(rs, IngressRule.generic) }

func ingressRules(rs []rule) []IngressRule { return mapRules(rs, rule.ingress) }

func cloneRules(rs []IngressRule) []IngressRule { return ingressRules(cloneAll(genericIngress(rs))) }

// PortRange returns the rule's inclusive destination port range; ToPort 0
// is read as FromPort.
func (r IngressRule) PortRange() (from, to uint16) {
	k := r.generic().key()
	return k.from, k.to
}

// Validate checks the rule and returns *errdefs.FieldError values wrapping
// ErrInvalid ("protocol", "sources[1]", "sourceGroups[0]").
func (r IngressRule) Validate() error { return r.generic().validate(inbound) }

// String formats the rule as ParseIngressRule reads it, for example
// "tcp:8000-8080 from 10.0.0.0/8,192.168.1.0/24", "icmp from 0.0.0.0/0"
// or "tcp:5432 from sg-0a1b2c3d4e5f60718".
func (r IngressRule) String() string { return r.generic().format(inbound) }

// ParseIngressRule parses the String form of a rule:
//
//	PROTOCOL[:PORT[-PORT]] from PEER[,PEER...]
//
// PROTOCOL is tcp, udp, icmp or all; tcp and udp need a port or port range,
// icmp and all take none. A PEER starting with "sg-" is a source group,
// any other an IPv4 prefix (a bare address is read as a /32). The result
// is validated.
func ParseIngressRule(s string) (IngressRule, error) {
	r, err := parseRule(s, "ingressRule", inbound)
	if err != nil {
		return IngressRule{}, err
	}
	return r.ingress(), nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		return netip.ParsePrefix(s)
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func parsePortRange(s string) (from, to uint16, err error) {
	a, b, isRange := strings.Cut(s, "-")
	from, err = parsePort("fromPort", a)
	if err != nil {
		return 0, 0, err
	}
	if !isRange {
		return from, from, nil
	}
	to, err = parsePort("toPort", b)
	if err != nil {
		return 0, 0, err
	}
	return from, to, nil
}

func parsePort(field, s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		return 0, fieldErr(field, "%q is not a port number", s)
	}
	return uint16(n), nil
}
