package network

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseIngressRule(t *testing.T) {
	t.Parallel()
	any4 := netip.MustParsePrefix("0.0.0.0/0")
	tests := []parseCase[IngressRule]{
		{in: "tcp:80 from 0.0.0.0/0", want: IngressRule{Protocol: ProtocolTCP, FromPort: 80, Sources: []netip.Prefix{any4}}},
		{in: "udp:8000-8080 from 10.0.0.0/8, 192.168.1.7", want: IngressRule{Protocol: ProtocolUDP, FromPort: 8000, ToPort: 8080,
			Sources: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.7/32")}}},
		{in: "icmp from 10.1.0.0/16", want: IngressRule{Protocol: ProtocolICMP, Sources: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}}},
		{in: "all from 0.0.0.0/0", want: IngressRule{Protocol: ProtocolAll, Sources: []netip.Prefix{any4}}},
		{in: "tcp:80-80 from 0.0.0.0/0", want: IngressRule{Protocol: ProtocolTCP, FromPort: 80, Sources: []netip.Prefix{any4}}},
		{in: "tcp:80", wantErr: "want PROTOCOL"},
		{in: "tcp from 0.0.0.0/0", wantErr: "fromPort"},
		{in: "tcp:0 from 0.0.0.0/0", wantErr: "fromPort"},
		{in: "tcp:90-80 from 0.0.0.0/0", wantErr: "toPort"},
		{in: "tcp:70000 from 0.0.0.0/0", wantErr: "not a port number"},
		{in: "icmp:8 from 0.0.0.0/0", wantErr: "ports do not apply"},
		{in: "tcp:80 from ::/0", wantErr: "not an IPv4 prefix"},
		{in: "tcp:80 from nowhere", wantErr: "sources"},
		{in: "gre from 0.0.0.0/0", wantErr: "protocol"},
	}
	runParseCases(t, ParseIngressRule, tests)
}

func TestIngressPolicyValidateNamesField(t *testing.T) {
	t.Parallel()
	p := &IngressPolicy{Rules: []IngressRule{
		{Protocol: ProtocolTCP, FromPort: 80, Sources: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}},
		{Protocol: ProtocolTCP, FromPort: 80},
	}}
	err := p.Validate()
	require.ErrorIs(t, err, ErrInvalid)
	assert.ErrorContains(t, err, "rules[1].sources")
	var nilPolicy *IngressPolicy
	require.NoError(t, nilPolicy.Validate())
}

func TestIngressRulePortRange(t *testing.T) {
	t.Parallel()
	from, to := IngressRule{FromPort: 5}.PortRange()
	assert.Equal(t, [2]uint16{5, 5}, [2]uint16{from, to})
	from, to = IngressRule{FromPort: 5, ToPort: 9}.PortRange()
	assert.Equal(t, [2]uint16{5, 9}, [2]uint16{from, to})
}

func FuzzParseIngressRule(f *testing.F) {
	for _, s := range []string{"tcp:80 from 0.0.0.0/0", "udp:1-65535 from 10.0.0.0/8,1.2.3.4", "icmp from 1.2.3.0/24", "all from 0.0.0.0/0", "tcp:x from y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseIngressRule(s)
		if err != nil {
			return
		}
		require.NoError(t, r.Validate())
		again, err := ParseIngressRule(r.String())
		require.NoError(t, err, "re-parse of %q", r.String())
		require.Equal(t, r, again)
	})
}

// parseCase is a case of a rule parser's table test: the rule wanted, or
// a part of the error wanted.
type parseCase[R any] struct {
	in      string
	want    R
	wantErr string
}

// runParseCases checks parse against tests, and that what it parses
// parses back from its String form.
func runParseCases[R fmt.Stringer](t *testing.T, parse func(string) (R, error), tests []parseCase[R]) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := parse(tt.in)
			if tt.wantErr != "" {
				require.ErrorIs(t, err, ErrInvalid)
				assert.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			again, err := parse(got.String())
			require.NoError(t, err)
			assert.Equal(t, got, again)
		})
	}
}
