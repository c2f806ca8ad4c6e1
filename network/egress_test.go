package network

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func egress(t *testing.T, specs ...string) []EgressRule {
	t.Helper()
	return parseAll(t, ParseEgressRule, specs...)
}

func egressStrings(rs []EgressRule) []string { return strs(rs) }

func TestParseEgressRule(t *testing.T) {
	t.Parallel()
	tests := []parseCase[EgressRule]{
		{in: "all to 0.0.0.0/0", want: DefaultEgressRule()},
		{in: "tcp:443 to 10.0.0.0/8, sg-0a1b", want: EgressRule{Protocol: ProtocolTCP, FromPort: 443,
			Destinations: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, DestinationGroups: []string{"sg-0a1b"}}},
		{in: "udp:53 to 10.88.0.1", want: EgressRule{Protocol: ProtocolUDP, FromPort: 53, Destinations: []netip.Prefix{netip.MustParsePrefix("10.88.0.1/32")}}},
		{in: "tcp:5432-5433 to sg-1", want: EgressRule{Protocol: ProtocolTCP, FromPort: 5432, ToPort: 5433, DestinationGroups: []string{"sg-1"}}},
		{in: "tcp:443 from 0.0.0.0/0", wantErr: "want PROTOCOL[:PORTS] to"},
		{in: "tcp:443 to sg-XYZ", wantErr: "destinationGroups[0]"},
		{in: "tcp:443 to sg-", wantErr: "not a security group ID"},
		{in: "tcp:443 to sg-0123456789abcdef01", wantErr: "not a security group ID"},
		{in: "tcp:443 to ::/0", wantErr: "destinations[0]"},
		{in: "icmp:3 to 0.0.0.0/0", wantErr: "ports do not apply"},
	}
	runParseCases(t, ParseEgressRule, tests)
}

func TestParseIngressRuleWithGroups(t *testing.T) {
	t.Parallel()
	r, err := ParseIngressRule("tcp:5432 from sg-0a, 10.0.0.0/8,sg-0b")
	require.NoError(t, err)
	assert.Equal(t, IngressRule{Protocol: ProtocolTCP, FromPort: 5432, Sources: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
		SourceGroups: []string{"sg-0a", "sg-0b"}}, r)
	assert.Equal(t, "tcp:5432 from 10.0.0.0/8,sg-0a,sg-0b", r.String())
	only, err := ParseIngressRule("all from sg-0a")
	require.NoError(t, err)
	assert.Equal(t, "all from sg-0a", only.String())
}

func TestSecurityGroupDefaultEgressRule(t *testing.T) {
	t.Parallel()
	g := NewSecurityGroup("sg-1", "web", "")
	require.NoError(t, g.Validate())
	assert.Equal(t, []string{"all to 0.0.0.0/0"}, egressStrings(g.EgressRules), "a new group allows all outbound traffic")
	literal := &SecurityGroup{ID: "sg-2", Name: "old"}
	assert.Equal(t, []string{"all to 0.0.0.0/0"}, egressStrings(literal.Egress()), "nil reads as the default rule")
	assert.Equal(t, 1, literal.EgressPermissions())

	err := g.AuthorizeEgress(egress(t, "all to 0.0.0.0/0"))
	require.ErrorIs(t, err, ErrInvalid)
	assert.Equal(t, []string{"egressRules[0].destinations[0]"}, fieldsOf(err))
	assert.ErrorContains(t, err, "all to 0.0.0.0/0 is already authorized")
	err = literal.AuthorizeEgress(egress(t, "all to 0.0.0.0/0"))
	assert.Equal(t, []string{"egressRules[0].destinations[0]"}, fieldsOf(err), "the implicit default rule is a permission too")

	require.NoError(t, g.AuthorizeEgress(egress(t, "tcp:443 to 0.0.0.0/0", "udp:53 to 10.88.0.1/32")))
	assert.Equal(t, []string{"all to 0.0.0.0/0", "tcp:443 to 0.0.0.0/0", "udp:53 to 10.88.0.1/32"}, egressStrings(g.EgressRules),
		"authorizing keeps the default rule")
	require.NoError(t, g.RevokeEgress([]EgressRule{DefaultEgressRule()}))
	assert.Equal(t, []string{"tcp:443 to 0.0.0.0/0", "udp:53 to 10.88.0.1/32"}, egressStrings(g.EgressRules))

	before := g.Clone()
	err = g.RevokeEgress(egress(t, "tcp:443 to 0.0.0.0/0", "tcp:80 to 0.0.0.0/0", "udp:53 to sg-0abc"))
	require.ErrorIs(t, err, ErrInvalid)
	assert.Equal(t, []string{"egressRules[1].destinations[0]", "egressRules[2].destinationGroups[0]"}, fieldsOf(err))
	assert.Equal(t, before, g, "a rejected call changes nothing")

	require.NoError(t, g.RevokeEgress(egress(t, "tcp:443 to 0.0.0.0/0", "udp:53 to 10.88.0.1/32")))
	require.NotNil(t, g.EgressRules, "no outbound rule is not the default rule")
	assert.Empty(t, g.Egress())
	assert.Equal(t, 0, g.EgressPermissions())

	literal = &SecurityGroup{ID: "sg-2", Name: "old"}
	require.NoError(t, literal.RevokeEgress([]EgressRule{DefaultEgressRule()}))
	assert.Empty(t, literal.Egress(), "the implicit default rule can be revoked")
}

func TestSecurityGroupEgressSurvivesJSON(t *testing.T) {
	t.Parallel()
	for _, g := range []*SecurityGroup{
		{ID: "sg-1", Name: "legacy"},
		NewSecurityGroup("sg-2", "new", ""),
		{ID: "sg-3", Name: "closed", EgressRules: []EgressRule{}},
		{ID: "sg-4", Name: "db", Rules: rules(t, "tcp:5432 from sg-1"), EgressRules: egress(t, "tcp:443 to 10.0.0.0/8,sg-2")},
	} {
		b, err := json.Marshal(g)
		require.NoError(t, err)
		var back SecurityGroup
		require.NoError(t, json.Unmarshal(b, &back))
		assert.Equal(t, g, &back, "%s", b)
		assert.Equal(t, g.Egress(), back.Egress())
		assert.Equal(t, g, g.Clone())
	}
}

func TestSecurityGroupRulesNamingGroups(t *testing.T) {
	t.Parallel()
	g := NewSecurityGroup("sg-1", "db", "")
	require.NoError(t, g.AuthorizeIngress(rules(t, "tcp:5432 from sg-2,10.0.0.0/8", "tcp:5432 from sg-1")))
	assert.Equal(t, []string{"tcp:5432 from 10.0.0.0/8,sg-2,sg-1"}, ruleStrings(g.Rules))
	assert.Equal(t, 3, g.Permissions())

	err := g.AuthorizeIngress(rules(t, "tcp:5432 from sg-2"))
	assert.Equal(t, []string{"ingressRules[0].sourceGroups[0]"}, fieldsOf(err))
	assert.ErrorContains(t, err, "tcp:5432 from sg-2 is already authorized")

	err = g.AuthorizeIngress([]IngressRule{{Protocol: ProtocolTCP, FromPort: 1, SourceGroups: []string{"sg-3", "web"}}})
	require.ErrorIs(t, err, ErrInvalid)
	assert.Equal(t, []string{"ingressRules[0].sourceGroups[1]"}, fieldsOf(err), "rules name groups by ID")

	require.NoError(t, g.AuthorizeEgress(egress(t, "tcp:443 to sg-3")))
	assert.Equal(t, []string{"sg-1", "sg-2", "sg-3"}, g.ReferencedGroups())
	require.NoError(t, g.RevokeIngress(rules(t, "tcp:5432 from sg-2,sg-1")))
	assert.Equal(t, []string{"tcp:5432 from 10.0.0.0/8"}, ruleStrings(g.Rules))
	assert.Equal(t, []string{"sg-3"}, g.ReferencedGroups())
}

func TestSecurityGroupValidateEgress(t *testing.T) {
	t.Parallel()
	any4 := netip.MustParsePrefix("0.0.0.0/0")
	tests := []struct {
		name       string
		g          SecurityGroup
		wantFields []string
	}{
		{"no egress rule", SecurityGroup{Name: "x", EgressRules: []EgressRule{}}, nil},
		{"bad destination", SecurityGroup{Name: "x", EgressRules: []EgressRule{DefaultEgressRule(),
			{Protocol: ProtocolTCP, FromPort: 80, Destinations: []netip.Prefix{any4, netip.MustParsePrefix("::/0")}}}},
			[]string{"egressRules[1].destinations[1]"}},
		{"bad group", SecurityGroup{Name: "x", EgressRules: []EgressRule{{Protocol: ProtocolAll, DestinationGroups: []string{"sg-Z"}}}},
			[]string{"egressRules[0].destinationGroups[0]"}},
		{"no destination", SecurityGroup{Name: "x", EgressRules: []EgressRule{{Protocol: ProtocolICMP}}},
			[]string{"egressRules[0].destinations"}},
		{"twice", SecurityGroup{Name: "x", EgressRules: []EgressRule{DefaultEgressRule(), DefaultEgressRule()}},
			[]string{"egressRules[1].destinations[0]"}},
		{"bad source group", SecurityGroup{Name: "x", Rules: []IngressRule{{Protocol: ProtocolAll, SourceGroups: []string{"sg-1", ""}}}},
			[]string{"ingressRules[0].sourceGroups[1]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.g.Validate()
			if tt.wantFields == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrInvalid)
			assert.Equal(t, tt.wantFields, fieldsOf(err))
		})
	}
}

func TestSecurityGroupEgressPermissionLimit(t *testing.T) {
	t.Parallel()
	g := NewSecurityGroup("sg-1", "web", "")
	var dests []string
	for i := range MaxSecurityGroupRules - 1 {
		dests = append(dests, fmt.Sprintf("10.0.%d.0/24", i))
	}
	require.NoError(t, g.AuthorizeEgress(egress(t, "tcp:443 to "+strings.Join(dests, ","))))
	assert.Equal(t, MaxSecurityGroupRules, g.EgressPermissions(), "the default rule counts")
	err := g.AuthorizeEgress(egress(t, "tcp:80 to sg-1"))
	require.ErrorIs(t, err, ErrInvalid)
	assert.Equal(t, []string{"egressRules"}, fieldsOf(err))
	require.NoError(t, g.AuthorizeIngress(rules(t, "tcp:80 from sg-1")), "each direction has its own limit")
}

func TestValidateSecurityGroupID(t *testing.T) {
	t.Parallel()
	for id, ok := range map[string]bool{
		"sg-0": true, "sg-0123456789abcdef0": true, "sg-0123456789abcdef01": false,
		"sg-": false, "sg-0A": false, "web": false, "": false, "sg-0g": false,
	} {
		err := ValidateSecurityGroupID(id)
		if ok {
			assert.NoError(t, err, id)
			continue
		}
		require.ErrorIs(t, err, ErrInvalid, id)
		assert.Equal(t, []string{"groupId"}, fieldsOf(err), id)
	}
}

func TestResolvePolicy(t *testing.T) {
	t.Parallel()
	web := NewSecurityGroup("sg-a", "web", "")
	require.NoError(t, web.AuthorizeIngress(rules(t, "tcp:80 from sg-b,10.0.0.0/8", "tcp:22 from sg-e")))
	db := NewSecurityGroup("sg-b", "db", "")
	require.NoError(t, db.AuthorizeIngress(rules(t, "tcp:5432 from sg-a", "tcp:80 from 10.0.0.0/8")))
	require.NoError(t, db.RevokeEgress([]EgressRule{DefaultEgressRule()}))
	require.NoError(t, db.AuthorizeEgress(egress(t, "tcp:443 to sg-a", "udp:53 to 10.88.0.1", "tcp:9000 to sg-e")))

	members := map[string][]netip.Addr{
		"sg-a": {netip.MustParseAddr("10.88.0.9"), netip.MustParseAddr("10.88.0.3"), netip.MustParseAddr("fd00::1")},
		"sg-b": {netip.MustParseAddr("10.88.0.5")},
	}
	lookup := func(id string) []netip.Addr { return members[id] }

	assert.Nil(t, ResolvePolicy(lookup), "no group: no filtering")

	p := ResolvePolicy(lookup, web)
	require.NoError(t, p.Validate())
	assert.Equal(t, []string{"tcp:80 from 10.0.0.0/8,10.88.0.5/32"}, ruleStrings(p.Rules),
		"a group resolves to its members; a rule whose groups have no member goes")
	assert.Nil(t, p.Egress, "the default rule leaves egress unrestricted")

	p = ResolvePolicy(lookup, db)
	require.NoError(t, p.Validate())
	assert.Equal(t, []string{"tcp:5432 from 10.88.0.3/32,10.88.0.9/32", "tcp:80 from 10.0.0.0/8"}, ruleStrings(p.Rules),
		"members sorted, IPv6 left out")
	require.NotNil(t, p.Egress)
	assert.Equal(t, []string{"tcp:443 to 10.88.0.3/32,10.88.0.9/32", "udp:53 to 10.88.0.1/32"}, egressStrings(p.Egress.Rules))

	both := ResolvePolicy(lookup, db, web)
	assert.Nil(t, both.Egress, "a group allowing all outbound traffic lifts the restriction")
	assert.Equal(t, []string{"tcp:5432 from 10.88.0.3/32,10.88.0.9/32", "tcp:80 from 10.0.0.0/8,10.88.0.5/32"}, ruleStrings(both.Rules))

	closed := NewSecurityGroup("sg-c", "closed", "")
	require.NoError(t, closed.RevokeEgress([]EgressRule{DefaultEgressRule()}))
	p = ResolvePolicy(nil, closed)
	require.NotNil(t, p.Egress)
	assert.Empty(t, p.Egress.Rules, "no outbound rule: every outbound connection is dropped")
	assert.Equal(t, PolicyOf(closed), p)

	members["sg-a"] = append(members["sg-a"], netip.MustParseAddr("10.88.0.4"))
	again := ResolvePolicy(lookup, db)
	assert.False(t, again.Equal(ResolvePolicy(func(string) []netip.Addr { return nil }, db)))
	assert.Equal(t, []string{"tcp:443 to 10.88.0.3/32,10.88.0.4/32,10.88.0.9/32", "udp:53 to 10.88.0.1/32"}, egressStrings(again.Egress.Rules),
		"resolving again picks up a new member")
}

func TestPolicyValidateRefusesGroupReferences(t *testing.T) {
	t.Parallel()
	p := &IngressPolicy{
		Rules:  []IngressRule{{Protocol: ProtocolAll, SourceGroups: []string{"sg-1"}}},
		Egress: &EgressPolicy{Rules: []EgressRule{{Protocol: ProtocolTCP, FromPort: 1, DestinationGroups: []string{"sg-1"}}, {Protocol: ProtocolTCP}}},
	}
	err := p.Validate()
	require.ErrorIs(t, err, ErrInvalid)
	assert.Equal(t, []string{"rules[0].sourceGroups", "egress.rules[0].destinationGroups", "egress.rules[1].fromPort", "egress.rules[1].destinations"}, fieldsOf(err))
}

func TestPolicyEqualAndClone(t *testing.T) {
	t.Parallel()
	base := &IngressPolicy{Rules: rules(t, "tcp:80 from 10.0.0.0/8")}
	restricted := base.Clone()
	restricted.Egress = &EgressPolicy{Rules: egress(t, "tcp:443 to 0.0.0.0/0")}
	closed := base.Clone()
	closed.Egress = &EgressPolicy{}
	assert.True(t, base.Equal(base.Clone()))
	assert.True(t, restricted.Equal(restricted.Clone()))
	assert.False(t, base.Equal(restricted), "unrestricted egress is not restricted egress")
	assert.False(t, closed.Equal(restricted))
	assert.False(t, closed.Equal(base), "no outbound rule is not unrestricted")
	c := restricted.Clone()
	c.Egress.Rules[0].Destinations[0] = netip.MustParsePrefix("1.0.0.0/8")
	assert.Equal(t, "tcp:443 to 0.0.0.0/0", restricted.Egress.Rules[0].String(), "clones share nothing")
}

func TestPolicyAllows(t *testing.T) {
	t.Parallel()
	p := &IngressPolicy{
		Rules:  rules(t, "tcp:80-81 from 10.0.0.0/8", "icmp from 192.168.0.0/16"),
		Egress: &EgressPolicy{Rules: egress(t, "udp:53 to 10.88.0.1", "all to 10.88.0.7")},
	}
	ip := netip.MustParseAddr
	tests := []struct {
		name string
		got  bool
		want bool
	}{
		{"tcp in range", p.AllowsInbound(ip("10.1.2.3"), ProtocolTCP, 81), true},
		{"tcp port outside", p.AllowsInbound(ip("10.1.2.3"), ProtocolTCP, 82), false},
		{"udp on a tcp rule", p.AllowsInbound(ip("10.1.2.3"), ProtocolUDP, 80), false},
		{"source outside", p.AllowsInbound(ip("11.1.2.3"), ProtocolTCP, 80), false},
		{"icmp", p.AllowsInbound(ip("192.168.1.1"), ProtocolICMP, 0), true},
		{"ipv6", p.AllowsInbound(ip("::ffff:10.1.2.3"), ProtocolTCP, 80), false},
		{"dns out", p.AllowsOutbound(ip("10.88.0.1"), ProtocolUDP, 53), true},
		{"tcp dns out", p.AllowsOutbound(ip("10.88.0.1"), ProtocolTCP, 53), false},
		{"all to a member", p.AllowsOutbound(ip("10.88.0.7"), ProtocolTCP, 5432), true},
		{"elsewhere", p.AllowsOutbound(ip("10.88.0.8"), ProtocolTCP, 5432), false},
		{"unrestricted egress", (&IngressPolicy{}).AllowsOutbound(ip("1.1.1.1"), ProtocolTCP, 443), true},
		{"no inbound rule", (&IngressPolicy{}).AllowsInbound(ip("1.1.1.1"), ProtocolTCP, 443), false},
		{"nil policy", (*IngressPolicy)(nil).AllowsInbound(ip("1.1.1.1"), ProtocolTCP, 443), true},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.got, tt.name)
	}
}

func FuzzParseEgressRule(f *testing.F) {
	for _, s := range []string{"tcp:443 to 0.0.0.0/0", "udp:1-65535 to 10.0.0.0/8,sg-1", "all to sg-0a,sg-0b", "tcp:x to y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseEgressRule(s)
		if err != nil {
			return
		}
		require.NoError(t, r.Validate())
		again, err := ParseEgressRule(r.String())
		require.NoError(t, err, "re-parse of %q", r.String())
		require.Equal(t, r, again)
	})
}
