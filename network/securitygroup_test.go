package network

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/stevedore-io/stevedore/errdefs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// parseAll parses specs with parse, failing the test on an error.
func parseAll[R any](t *testing.T, parse func(string) (R, error), specs ...string) []R {
	t.Helper()
	out := make([]R, len(specs))
	for i, s := range specs {
		r, err := parse(s)
		require.NoError(t, err, s)
		out[i] = r
	}
	return out
}

func rules(t *testing.T, specs ...string) []IngressRule {
	t.Helper()
	return parseAll(t, ParseIngressRule, specs...)
}

func strs[R fmt.Stringer](rs []R) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.String()
	}
	return out
}

func ruleStrings(rs []IngressRule) []string { return strs(rs) }

// fieldsOf lists the paths of the *errdefs.FieldError values in err.
func fieldsOf(err error) []string {
	var out []string
	for _, fe := range errdefs.FieldErrors(err) {
		out = append(out, fe.Path)
	}
	return out
}

func TestSecurityGroupAuthorizeMergesPermissions(t *testing.T) {
	t.Parallel()
	g := &SecurityGroup{ID: "sg-1", Name: "web"}
	require.NoError(t, g.AuthorizeIngress(rules(t, "tcp:80 from 10.0.0.7/8", "tcp:80-80 from 192.168.0.0/16", "udp:53 from 0.0.0.0/0")))
	assert.Equal(t, []string{"tcp:80 from 10.0.0.0/8,192.168.0.0/16", "udp:53 from 0.0.0.0/0"}, ruleStrings(g.Rules),
		"same protocol and ports share a rule; host bits are dropped")
	assert.Equal(t, 3, g.Permissions())

	before := g.Clone()
	err := g.AuthorizeIngress(rules(t, "tcp:443 from 0.0.0.0/0", "tcp:80 from 10.0.0.0/8, 172.16.0.0/12"))
	require.ErrorIs(t, err, ErrInvalid)
	assert.Equal(t, []string{"ingressRules[1].sources[0]"}, fieldsOf(err))
	assert.Contains(t, err.Error(), "tcp:80 from 10.0.0.0/8 is already authorized")
	assert.Equal(t, before, g, "a rejected call changes nothing")

	err = g.AuthorizeIngress([]IngressRule{{Protocol: "gre"}, {Protocol: ProtocolTCP, FromPort: 1, Sources: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}})
	require.ErrorIs(t, err, ErrInvalid)
	assert.Equal(t, []string{"ingressRules[0].protocol", "ingressRules[0].sources"}, fieldsOf(err))
	assert.Equal(t, before, g)
}

func TestSecurityGroupRevoke(t *testing.T) {
	t.Parallel()
	g := &SecurityGroup{ID: "sg-1", Name: "web", Rules: rules(t, "tcp:80 from 10.0.0.0/8,192.168.0.0/16", "icmp from 0.0.0.0/0")}
	before := g.Clone()
	err := g.RevokeIngress(rules(t, "tcp:80 from 10.0.0.0/8", "tcp:81 from 10.0.0.0/8", "icmp from 10.0.0.0/8"))
	require.ErrorIs(t, err, ErrInvalid)
	assert.Equal(t, []string{"ingressRules[1].sources[0]", "ingressRules[2].sources[0]"}, fieldsOf(err))
	assert.Contains(t, err.Error(), "tcp:81 from 10.0.0.0/8 is not authorized")
	assert.Equal(t, before, g, "a rejected call changes nothing")

	require.NoError(t, g.RevokeIngress(rules(t, "tcp:80 from 10.1.2.3/8", "icmp from 0.0.0.0/0")))
	assert.Equal(t, []string{"tcp:80 from 192.168.0.0/16"}, ruleStrings(g.Rules), "a rule without sources goes")
}

func TestSecurityGroupValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		g          SecurityGroup
		wantFields []string
	}{
		{"fine", SecurityGroup{Name: "web servers", Description: "port 80 from the office"}, nil},
		{"no name", SecurityGroup{}, []string{"groupName"}},
		{"name like an ID", SecurityGroup{Name: "sg-web"}, []string{"groupName"}},
		{"long name", SecurityGroup{Name: strings.Repeat("a", 256)}, []string{"groupName"}},
		{"control character", SecurityGroup{Name: "web", Description: "a\nb"}, []string{"description"}},
		{"bad rule", SecurityGroup{Name: "web", Rules: []IngressRule{{Protocol: ProtocolUDP, FromPort: 9, ToPort: 8, Sources: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}}}},
			[]string{"ingressRules[0].toPort"}},
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

func TestSecurityGroupPermissionLimit(t *testing.T) {
	t.Parallel()
	var sources []string
	for i := range MaxSecurityGroupRules {
		sources = append(sources, fmt.Sprintf("10.0.%d.0/24", i))
	}
	g := &SecurityGroup{Name: "web"}
	require.NoError(t, g.AuthorizeIngress(rules(t, "tcp:80 from "+strings.Join(sources, ","))))
	err := g.AuthorizeIngress(rules(t, "tcp:81 from 10.0.0.0/24"))
	require.ErrorIs(t, err, ErrInvalid)
	assert.Equal(t, []string{"ingressRules"}, fieldsOf(err))
	assert.Equal(t, MaxSecurityGroupRules, g.Permissions())
}

func TestPolicyOfIsTheUnionOfTheGroups(t *testing.T) {
	t.Parallel()
	assert.Nil(t, PolicyOf(), "no group: no filtering")
	empty := PolicyOf(&SecurityGroup{Name: "none"})
	require.NotNil(t, empty, "a group without rules denies everything")
	assert.Empty(t, empty.Rules)

	a := &SecurityGroup{Name: "a", Rules: rules(t, "tcp:80 from 10.0.0.0/8", "icmp from 0.0.0.0/0")}
	b := &SecurityGroup{Name: "b", Rules: rules(t, "tcp:80 from 10.0.0.0/8,192.168.0.0/16", "udp:53-54 from 10.0.0.0/8")}
	p := PolicyOf(a, b)
	require.NoError(t, p.Validate())
	assert.Equal(t, []string{"tcp:80 from 10.0.0.0/8,192.168.0.0/16", "icmp from 0.0.0.0/0", "udp:53-54 from 10.0.0.0/8"}, ruleStrings(p.Rules))
	p.Rules[0].Sources[0] = netip.MustParsePrefix("1.0.0.0/8")
	assert.Equal(t, "tcp:80 from 10.0.0.0/8", a.Rules[0].String(), "the policy shares nothing with the groups")
}

// permission is one (protocol, ports, source) of a group, as a string.
func permissions(rs []IngressRule) map[string]bool {
	out := map[string]bool{}
	for _, r := range rs {
		for _, src := range r.Sources {
			out[permString(r.generic().key(), src.Masked().String(), inbound)] = true
		}
	}
	return out
}

func genRule(t *rapid.T, label string) IngressRule {
	protos := []Protocol{ProtocolTCP, ProtocolUDP, ProtocolICMP, ProtocolAll}
	r := IngressRule{Protocol: rapid.SampledFrom(protos).Draw(t, label+".protocol")}
	if r.Protocol.HasPorts() {
		r.FromPort = rapid.Uint16Range(1, 4).Draw(t, label+".from")
		r.ToPort = rapid.SampledFrom([]uint16{0, r.FromPort, 4}).Draw(t, label+".to")
	}
	n := rapid.IntRange(1, 3).Draw(t, label+".sources")
	for i := range n {
		bits := rapid.SampledFrom([]int{0, 8, 16, 32}).Draw(t, fmt.Sprintf("%s.bits%d", label, i))
		addr := netip.AddrFrom4([4]byte{10, rapid.ByteRange(0, 2).Draw(t, fmt.Sprintf("%s.b%d", label, i)), 0, 7})
		r.Sources = append(r.Sources, netip.PrefixFrom(addr, bits))
	}
	return r
}

// TestSecurityGroupPermissionsProperties checks the permission algebra: an
// accepted AuthorizeIngress adds exactly its permissions, a refused one
// changes nothing and is refused because of a permission held already (or
// given twice); RevokeIngress of what was just added gives the group back;
// PolicyOf holds the union of the groups' permissions.
func TestSecurityGroupPermissionsProperties(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		g := &SecurityGroup{Name: "g"}
		for step := range rapid.IntRange(1, 6).Draw(t, "steps") {
			add := make([]IngressRule, rapid.IntRange(1, 3).Draw(t, "rules"))
			for i := range add {
				add[i] = genRule(t, fmt.Sprintf("step%d.rule%d", step, i))
			}
			before := g.Clone()
			had := permissions(g.Rules)
			err := g.AuthorizeIngress(add)
			if err != nil {
				require.Equal(t, before, g, "a refused call changes nothing")
				require.Contains(t, err.Error(), "already authorized")
				continue
			}
			got := permissions(g.Rules)
			for p := range had {
				require.True(t, got[p], "kept %s", p)
			}
			for p := range permissions(add) {
				require.True(t, got[p] && !had[p], "added %s", p)
			}
			require.Equal(t, len(had)+len(permissions(add)), len(got))
			require.NoError(t, (&IngressPolicy{Rules: g.Rules}).Validate())

			if rapid.Bool().Draw(t, fmt.Sprintf("step%d.undo", step)) {
				require.NoError(t, g.RevokeIngress(add))
				require.Equal(t, had, permissions(g.Rules), "revoking what was added gives the group back")
			}
		}
		other := &SecurityGroup{Name: "o", Rules: []IngressRule{genRule(t, "other")}}
		union := permissions(g.Rules)
		for p := range permissions(other.Rules) {
			union[p] = true
		}
		require.Equal(t, union, permissions(PolicyOf(g, other).Rules))
	})
}

// TestSecurityGroupEgressPermissionsProperties checks the same algebra for
// outbound rules, which start from the default rule: an accepted
// AuthorizeEgress adds exactly its permissions and RevokeEgress of them
// gives the group back; a refused call changes nothing.
func TestSecurityGroupEgressPermissionsProperties(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		g := NewSecurityGroup("sg-1", "g", "")
		for step := range rapid.IntRange(1, 6).Draw(t, "steps") {
			add := make([]EgressRule, rapid.IntRange(1, 3).Draw(t, "rules"))
			for i := range add {
				r := genRule(t, fmt.Sprintf("step%d.rule%d", step, i)).generic()
				if rapid.Bool().Draw(t, fmt.Sprintf("step%d.rule%d.group", step, i)) {
					r.groups = []string{rapid.SampledFrom([]string{"sg-a", "sg-b"}).Draw(t, fmt.Sprintf("step%d.rule%d.id", step, i))}
				}
				add[i] = r.egress()
			}
			before := g.Clone()
			had := countPermissions(genericEgress(g.Egress()))
			if err := g.AuthorizeEgress(add); err != nil {
				require.Equal(t, before, g, "a refused call changes nothing")
				require.Contains(t, err.Error(), "already authorized")
				continue
			}
			require.Equal(t, had+countPermissions(genericEgress(add)), g.EgressPermissions())
			require.NoError(t, g.Validate())
			if rapid.Bool().Draw(t, fmt.Sprintf("step%d.undo", step)) {
				require.NoError(t, g.RevokeEgress(add))
				require.Equal(t, had, g.EgressPermissions(), "revoking what was added gives the group back")
				require.True(t, equalRules(genericEgress(before.Egress()), genericEgress(g.Egress())))
			}
		}
	})
}
