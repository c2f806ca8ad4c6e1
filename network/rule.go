package network

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Inbound and outbound rules have the same shape (a protocol, a port
// range and peers, which are prefixes or security groups) and the same
// algebra of permissions; they differ in the names of their fields. The
// code below works on rule and takes a direction for the names.

// direction names the fields of one direction's rules, in errors and text.
type direction struct {
	list   string // the group's field: "ingressRules"
	peers  string // the rule's prefixes: "sources"
	groups string // the rule's groups: "sourceGroups"
	word   string // the text form's separator: "from"
}

var (
	inbound  = direction{list: "ingressRules", peers: "sources", groups: "sourceGroups", word: "from"}
	outbound = direction{list: "egressRules", peers: "destinations", groups: "destinationGroups", word: "to"}
)

// rule is an IngressRule or an EgressRule without its direction.
type rule struct {
	proto    Protocol
	from, to uint16
	prefixes []netip.Prefix
	groups   []string
}

// permKey is the protocol and port range of a rule.
type permKey struct {
	proto    Protocol
	from, to uint16
}

func (r rule) key() permKey {
	if r.to == 0 {
		return permKey{r.proto, r.from, r.from}
	}
	return permKey{r.proto, r.from, r.to}
}

// permissions counts the rule's peers, each one permission.
func (r rule) permissions() int { return len(r.prefixes) + len(r.groups) }

// emptyRule returns a rule for k without peers, ToPort 0 for one port.
func emptyRule(k permKey) rule {
	out := rule{proto: k.proto, from: k.from}
	if k.to != k.from {
		out.to = k.to
	}
	return out
}

func (r rule) validate(d direction) error {
	var errs []error
	switch r.proto {
	case ProtocolTCP, ProtocolUDP:
		if r.from == 0 {
			errs = append(errs, fieldErr("fromPort", "must be between 1 and 65535 for %s", r.proto))
		}
		if r.to != 0 && r.to < r.from {
			errs = append(errs, fieldErr("toPort", "%d is below fromPort %d", r.to, r.from))
		}
	case ProtocolICMP, ProtocolAll:
		if r.from != 0 || r.to != 0 {
			errs = append(errs, fieldErr("fromPort", "ports do not apply to %s", r.proto))
		}
	default:
		errs = append(errs, fieldErr("protocol", "%q is not one of tcp, udp, icmp, all", string(r.proto)))
	}
	if r.permissions() == 0 {
		errs = append(errs, fieldErr(d.peers, "at least one prefix or security group is needed (0.0.0.0/0 is any address)"))
	}
	for i, p := range r.prefixes {
		if !p.IsValid() || !p.Addr().Is4() {
			errs = append(errs, fieldErr(fmt.Sprintf("%s[%d]", d.peers, i), "%q is not an IPv4 prefix", p.String()))
		}
	}
	for i, g := range r.groups {
		if err := checkGroupID(fmt.Sprintf("%s[%d]", d.groups, i), g); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// validateResolved checks a rule of a policy, whose group references
// must have been resolved to prefixes.
func (r rule) validateResolved(d direction) error {
	if len(r.groups) == 0 {
		return r.validate(d)
	}
	errs := []error{fieldErr(d.groups, "a policy holds no group references: resolve them to the members' addresses first (ResolvePolicy)")}
	if err := r.validate(d); err != nil {
		errs = append(errs, flatten(err)...)
	}
	return errors.Join(errs...)
}

func (r rule) format(d direction) string {
	var b strings.Builder
	b.WriteString(string(r.proto))
	if r.proto.HasPorts() {
		b.WriteByte(':')
		b.WriteString(portString(r.from, r.to))
	}
	b.WriteString(" " + d.word + " ")
	for i, p := range r.prefixes {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(p.String())
	}
	for i, g := range r.groups {
		if i > 0 || len(r.prefixes) > 0 {
			b.WriteByte(',')
		}
		b.WriteString(g)
	}
	return b.String()
}

// parseRule parses the text form of a rule of direction d:
// PROTOCOL[:PORT[-PORT]] WORD PEER[,PEER...], each PEER an IPv4 prefix
// (a bare address is a /32) or a security group ID.
func parseRule(s, field string, d direction) (rule, error) {
	head, peers, ok := strings.Cut(strings.TrimSpace(s), " "+d.word+" ")
	if !ok {
		return rule{}, fieldErr(field, "%q: want PROTOCOL[:PORTS] %s PREFIX|GROUP[,PREFIX|GROUP...]", s, d.word)
	}
	var r rule
	protoStr, ports, hasPorts := strings.Cut(strings.TrimSpace(head), ":")
	proto, err := ParseProtocol(protoStr)
	if err != nil {
		return rule{}, err
	}
	r.proto = proto
	if hasPorts {
		from, to, err := parsePortRange(ports)
		if err != nil {
			return rule{}, err
		}
		r.from = from
		if to != from {
			r.to = to
		}
	}
	for peer := range strings.SplitSeq(peers, ",") {
		peer = strings.TrimSpace(peer)
		if strings.HasPrefix(peer, "sg-") {
			r.groups = append(r.groups, peer)
			continue
		}
		p, err := parsePrefix(peer)
		if err != nil {
			return rule{}, fieldErr(d.peers, "%q: %v", peer, err)
		}
		r.prefixes = append(r.prefixes, p)
	}
	if err := r.validate(d); err != nil {
		return rule{}, err
	}
	return r, nil
}

// mapRules converts rules between an API type and rule; nil stays nil,
// which SecurityGroup.EgressRules tells apart from empty.
func mapRules[T, U any](rs []T, convert func(T) U) []U {
	if rs == nil {
		return nil
	}
	out := make([]U, len(rs))
	for i, r := range rs {
		out[i] = convert(r)
	}
	return out
}

func (r rule) clone() rule {
	r.prefixes = slices.Clone(r.prefixes)
	r.groups = slices.Clone(r.groups)
	return r
}

func cloneAll(rs []rule) []rule { return mapRules(rs, rule.clone) }

func equalRules(a, b []rule) bool {
	return slices.EqualFunc(a, b, func(x, y rule) bool {
		return x.proto == y.proto && x.from == y.from && x.to == y.to &&
			slices.Equal(x.prefixes, y.prefixes) && slices.Equal(x.groups, y.groups)
	})
}

// permString formats one permission: a rule's key with one peer (a prefix
// or a group ID).
func permString(k permKey, peer string, d direction) string {
	r := emptyRule(k)
	r.groups = []string{peer} // formats the same as a prefix
	return r.format(d)
}

func indexOfKey(rs []rule, k permKey) int {
	return slices.IndexFunc(rs, func(x rule) bool { return x.key() == k })
}

// countPermissions counts the permissions of rules.
func countPermissions(rs []rule) int {
	n := 0
	for _, r := range rs {
		n += r.permissions()
	}
	return n
}

// validateAll checks rules, naming them d.list[i].
func validateAll(rs []rule, d direction) error {
	var errs []error
	for i, r := range rs {
		errs = append(errs, prefixField(fmt.Sprintf("%s[%d]", d.list, i), r.validate(d)))
	}
	return errors.Join(errs...)
}

// mergePermissions returns a copy of have with the permissions of add,
// after checking that add's rules are valid and add no permission twice,
// and that the result stays within MaxSecurityGroupRules. Errors name the
// rules of add as d.list[i].
func mergePermissions(have, add []rule, d direction) ([]rule, error) {
	if err := validateAll(add, d); err != nil {
		return nil, err
	}
	var errs []error
	out := cloneAll(have)
	for i, r := range add {
		r = r.masked()
		k := r.key()
		at := indexOfKey(out, k)
		if at < 0 {
			out = append(out, emptyRule(k))
			at = len(out) - 1
		}
		errs = append(errs, addPeers(&out[at].prefixes, r.prefixes, k, d, fmt.Sprintf("%s[%d].%s", d.list, i, d.peers))...)
		errs = append(errs, addPeers(&out[at].groups, r.groups, k, d, fmt.Sprintf("%s[%d].%s", d.list, i, d.groups))...)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if n := countPermissions(out); n > MaxSecurityGroupRules {
		return nil, fieldErr(d.list, "%d permissions (rule peers), at most %d allowed in a group", n, MaxSecurityGroupRules)
	}
	return out, nil
}

// revokePermissions returns a copy of have without the permissions of del,
// after checking that del's rules are valid and that have holds each of
// their permissions. Rules left without a peer are dropped.
func revokePermissions(have, del []rule, d direction) ([]rule, error) {
	if err := validateAll(del, d); err != nil {
		return nil, err
	}
	var errs []error
	out := cloneAll(have)
	for i, r := range del {
		r = r.masked()
		k := r.key()
		var prefixes *[]netip.Prefix
		var groups *[]string
		if at := indexOfKey(out, k); at >= 0 {
			prefixes, groups = &out[at].prefixes, &out[at].groups
		}
		errs = append(errs, removePeers(prefixes, r.prefixes, k, d, fmt.Sprintf("%s[%d].%s", d.list, i, d.peers))...)
		errs = append(errs, removePeers(groups, r.groups, k, d, fmt.Sprintf("%s[%d].%s", d.list, i, d.groups))...)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return slices.DeleteFunc(out, func(r rule) bool { return r.permissions() == 0 }), nil
}

// masked returns r with the host bits of its prefixes cleared.
func (r rule) masked() rule {
	r.prefixes = mapRules(r.prefixes, netip.Prefix.Masked)
	return r
}

// addPeers appends the peers of add to *have; one that is there already is
// an error naming field[j], the j-th peer of add.
func addPeers[P comparable](have *[]P, add []P, k permKey, d direction, field string) []error {
	var errs []error
	for j, p := range add {
		if slices.Contains(*have, p) {
			errs = append(errs, fieldErr(fmt.Sprintf("%s[%d]", field, j), "%s is already authorized", permString(k, fmt.Sprint(p), d)))
			continue
		}
		*have = append(*have, p)
	}
	return errs
}

// removePeers deletes the peers of del from *have (nil: a rule that is not
// there); one that is not there is an error naming field[j].
func removePeers[P comparable](have *[]P, del []P, k permKey, d direction, field string) []error {
	var errs []error
	for j, p := range del {
		n := -1
		if have != nil {
			n = slices.Index(*have, p)
		}
		if n < 0 {
			errs = append(errs, fieldErr(fmt.Sprintf("%s[%d]", field, j), "%s is not authorized", permString(k, fmt.Sprint(p), d)))
			continue
		}
		*have = slices.Delete(*have, n, n+1)
	}
	return errs
}

// union adds the permissions of rs to into, each once, with every group
// reference replaced by the /32 prefixes of the group's members; rules
// left without a prefix are dropped.
func union(into []rule, rs []rule, members GroupMembers) []rule {
	for _, r := range rs {
		k := r.key()
		at := indexOfKey(into, k)
		if at < 0 {
			into = append(into, emptyRule(k))
			at = len(into) - 1
		}
		add := func(p netip.Prefix) {
			if p = p.Masked(); !slices.Contains(into[at].prefixes, p) {
				into[at].prefixes = append(into[at].prefixes, p)
			}
		}
		for _, p := range r.prefixes {
			add(p)
		}
		for _, g := range r.groups {
			if members == nil {
				continue
			}
			addrs := slices.Clone(members(g))
			slices.SortFunc(addrs, func(a, b netip.Addr) int { return a.Compare(b) })
			for _, a := range addrs {
				if a.Is4() {
					add(netip.PrefixFrom(a, 32))
				}
			}
		}
	}
	return slices.DeleteFunc(into, func(r rule) bool { return len(r.prefixes) == 0 })
}

// allows reports whether one of rs allows a packet of proto to port of
// addr (the source of an inbound packet, the destination of an outbound
// one). Port 0 stands for a protocol without ports.
func allows(rs []rule, addr netip.Addr, proto Protocol, port uint16) bool {
	if !addr.Is4() {
		return false // IPv6 is always dropped
	}
	for _, r := range rs {
		switch r.proto {
		case ProtocolAll:
		case proto:
			if proto.HasPorts() {
				k := r.key()
				if port < k.from || port > k.to {
					continue
				}
			}
		default:
			continue
		}
		for _, p := range r.prefixes {
			if p.Contains(addr) {
				return true
			}
		}
	}
	return false
}
