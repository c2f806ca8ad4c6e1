package network

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// IngressPolicy is the security-group analogue of a task: when a Request
// carries one, every inbound connection to the task that no rule allows is
// dropped. A nil *IngressPolicy means no filtering at all; an empty
// IngressPolicy (no rules) denies every inbound connection.
//
// Whatever the rules, replies to the task's own outbound connections
// (conntrack established/related) and traffic on the task's loopback are
// always allowed, and IPv6 is always dropped (tasks are IPv4-only).
type IngressPolicy struct {
	Rules []IngressRule `json:"rules"`
}

// Clone returns a deep copy of p (nil for nil).
func (p *IngressPolicy) Clone() *IngressPolicy {
	if p == nil {
		return nil
	}
	return &IngressPolicy{Rules: cloneRules(p.Rules)}
}

// Equal reports whether p and q are the same policy, rule for rule (nil
// equals only nil: no filtering is not an empty policy).
func (p *IngressPolicy) Equal(q *IngressPolicy) bool {
	if p == nil || q == nil {
		return p == q
	}
	return slices.EqualFunc(p.Rules, q.Rules, func(a, b IngressRule) bool {
		return a.Protocol == b.Protocol && a.FromPort == b.FromPort && a.ToPort == b.ToPort && slices.Equal(a.Sources, b.Sources)
	})
}

// Validate checks every rule.
func (p *IngressPolicy) Validate() error {
	if p == nil {
		return nil
	}
	var errs []error
	for i, r := range p.Rules {
		errs = append(errs, prefixField(fmt.Sprintf("rules[%d]", i), r.Validate()))
	}
	return errors.Join(errs...)
}

// IngressRule allows inbound traffic of one protocol, on a port range, from a
// set of source prefixes, like one inbound rule of an AWS security group.
type IngressRule struct {
	// Protocol is tcp, udp, icmp or all.
	Protocol Protocol `json:"protocol"`
	// FromPort and ToPort bound the destination ports (inclusive) for tcp
	// and udp; ToPort 0 means FromPort alone. Both are 0 for icmp and all.
	FromPort uint16 `json:"fromPort,omitempty"`
	ToPort   uint16 `json:"toPort,omitempty"`
	// Sources are the IPv4 prefixes allowed to connect; at least one is
	// needed (0.0.0.0/0 allows any source). Host bits are ignored.
	Sources []netip.Prefix `json:"sources"`
}

// PortRange returns the rule's inclusive destination port range; ToPort 0
// is read as FromPort.
func (r IngressRule) PortRange() (from, to uint16) {
	if r.ToPort == 0 {
		return r.FromPort, r.FromPort
	}
	return r.FromPort, r.ToPort
}

// Validate checks the rule and returns *FieldError values wrapping ErrInvalid.
func (r IngressRule) Validate() error {
	var errs []error
	switch r.Protocol {
	case ProtocolTCP, ProtocolUDP:
		if r.FromPort == 0 {
			errs = append(errs, fieldErr("fromPort", "must be between 1 and 65535 for %s", r.Protocol))
		}
		if r.ToPort != 0 && r.ToPort < r.FromPort {
			errs = append(errs, fieldErr("toPort", "%d is below fromPort %d", r.ToPort, r.FromPort))
		}
	case ProtocolICMP, ProtocolAll:
		if r.FromPort != 0 || r.ToPort != 0 {
			errs = append(errs, fieldErr("fromPort", "ports do not apply to %s", r.Protocol))
		}
	default:
		errs = append(errs, fieldErr("protocol", "%q is not one of tcp, udp, icmp, all", string(r.Protocol)))
	}
	if len(r.Sources) == 0 {
		errs = append(errs, fieldErr("sources", "at least one prefix is needed (0.0.0.0/0 allows any source)"))
	}
	for i, p := range r.Sources {
		if !p.IsValid() || !p.Addr().Is4() {
			errs = append(errs, fieldErr(fmt.Sprintf("sources[%d]", i), "%q is not an IPv4 prefix", p.String()))
		}
	}
	return errors.Join(errs...)
}

// String formats the rule as ParseIngressRule reads it, for example
// "tcp:8000-8080 from 10.0.0.0/8,192.168.1.0/24" or "icmp from 0.0.0.0/0".
func (r IngressRule) String() string {
	var b strings.Builder
	b.WriteString(string(r.Protocol))
	if r.Protocol.HasPorts() {
		b.WriteByte(':')
		b.WriteString(portString(r.FromPort, r.ToPort))
	}
	b.WriteString(" from ")
	for i, p := range r.Sources {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// ParseIngressRule parses the String form of a rule:
//
//	PROTOCOL[:PORT[-PORT]] from PREFIX[,PREFIX...]
//
// PROTOCOL is tcp, udp, icmp or all; tcp and udp need a port or port range,
// icmp and all take none. A bare IPv4 address is read as a /32 prefix. The
// result is validated.
func ParseIngressRule(s string) (IngressRule, error) {
	head, sources, ok := strings.Cut(strings.TrimSpace(s), " from ")
	if !ok {
		return IngressRule{}, fieldErr("ingressRule", "%q: want PROTOCOL[:PORTS] from PREFIX[,PREFIX...]", s)
	}
	var r IngressRule
	protoStr, ports, hasPorts := strings.Cut(strings.TrimSpace(head), ":")
	proto, err := ParseProtocol(protoStr)
	if err != nil {
		return IngressRule{}, err
	}
	r.Protocol = proto
	if hasPorts {
		from, to, err := parsePortRange(ports)
		if err != nil {
			return IngressRule{}, err
		}
		r.FromPort = from
		if to != from {
			r.ToPort = to
		}
	}
	for _, src := range strings.Split(sources, ",") {
		p, err := parsePrefix(strings.TrimSpace(src))
		if err != nil {
			return IngressRule{}, fieldErr("sources", "%q: %v", src, err)
		}
		r.Sources = append(r.Sources, p)
	}
	if err := r.Validate(); err != nil {
		return IngressRule{}, err
	}
	return r, nil
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
