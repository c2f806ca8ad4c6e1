package network

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/stevedore-io/stevedore/errdefs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRequestValidate(t *testing.T) {
	t.Parallel()
	anySrc := []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}
	ok := Request{TaskID: "arn:aws:ecs:task/abc", Mode: ModeAWSVPC, Hostname: "web-1",
		PortMappings: []PortMapping{{ContainerPort: 80}, {ContainerPort: 53, HostPort: 53, Protocol: ProtocolUDP}},
		Ingress:      &IngressPolicy{Rules: []IngressRule{{Protocol: ProtocolTCP, FromPort: 80, Sources: anySrc}}},
		DNS:          DNSConfig{Servers: []netip.Addr{netip.MustParseAddr("10.0.0.2")}, Search: []string{"corp.example."}, Options: []string{"ndots:2"}},
		ExtraHosts:   []HostEntry{{Hostname: "db", Address: netip.MustParseAddr("10.0.0.9")}},
	}
	require.NoError(t, ok.Validate())

	tests := []struct {
		name   string
		mutate func(*Request)
		field  string
	}{
		{"empty task ID", func(r *Request) { r.TaskID = "" }, "taskID"},
		{"task ID with space", func(r *Request) { r.TaskID = "a b" }, "taskID"},
		{"long task ID", func(r *Request) { r.TaskID = strings.Repeat("x", 201) }, "taskID"},
		{"mode", func(r *Request) { r.Mode = "nat" }, "mode"},
		{"hostname", func(r *Request) { r.Hostname = "-bad" }, "hostname"},
		{"awsvpc host port differs", func(r *Request) { r.PortMappings[0].HostPort = 8080 }, "portMappings[0].hostPort"},
		{"host mode host port differs", func(r *Request) { r.Mode = ModeHost; r.Ingress = nil; r.PortMappings[0].HostPort = 8080 }, "portMappings[0].hostPort"},
		{"container port zero", func(r *Request) { r.PortMappings[1].ContainerPort = 0 }, "portMappings[1].containerPort"},
		{"protocol", func(r *Request) { r.PortMappings[1].Protocol = ProtocolICMP }, "portMappings[1].protocol"},
		{"duplicate", func(r *Request) {
			r.PortMappings = append(r.PortMappings, PortMapping{ContainerPort: 80, Protocol: ProtocolTCP})
		}, "portMappings[2].hostPort"},
		{"none with ports", func(r *Request) { r.Mode = ModeNone; r.Ingress = nil }, "portMappings"},
		{"host with ingress", func(r *Request) { r.Mode = ModeHost }, "ingress"},
		{"bad rule", func(r *Request) { r.Ingress.Rules[0].Sources = nil }, "ingress.rules[0].sources"},
		{"dns server", func(r *Request) { r.DNS.Servers = []netip.Addr{{}} }, "dns.servers[0]"},
		{"dns search", func(r *Request) { r.DNS.Search = []string{"a..b"} }, "dns.search[0]"},
		{"dns option", func(r *Request) { r.DNS.Options = []string{"a b"} }, "dns.options[0]"},
		{"extra host name", func(r *Request) { r.ExtraHosts[0].Hostname = "" }, "extraHosts[0].hostname"},
		{"extra host address", func(r *Request) { r.ExtraHosts[0].Address = netip.Addr{} }, "extraHosts[0].ipAddress"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := ok
			r.PortMappings = append([]PortMapping(nil), ok.PortMappings...)
			r.ExtraHosts = append([]HostEntry(nil), ok.ExtraHosts...)
			r.Ingress = &IngressPolicy{Rules: append([]IngressRule(nil), ok.Ingress.Rules...)}
			tt.mutate(&r)
			err := r.Validate()
			require.ErrorIs(t, err, ErrInvalid)
			assert.ErrorContains(t, err, tt.field+":")
			require.NotEmpty(t, errdefs.FieldErrors(err))
			assert.Equal(t, tt.field, errdefs.FieldErrors(err)[0].Path)
		})
	}
}

func TestRequestValidateBridgeAllowsAnyHostPort(t *testing.T) {
	t.Parallel()
	r := Request{TaskID: "t", Mode: ModeBridge, PortMappings: []PortMapping{
		{ContainerPort: 80}, {ContainerPort: 80, HostPort: 8080}, {ContainerPort: 81}, {ContainerPort: 80, HostPort: 8081},
	}}
	require.NoError(t, r.Validate())
	r.PortMappings = append(r.PortMappings, PortMapping{ContainerPort: 90, HostPort: 8080})
	require.ErrorIs(t, r.Validate(), ErrInvalid)
}

func TestParsePortMapping(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    PortMapping
		wantErr bool
	}{
		{in: "80", want: PortMapping{ContainerPort: 80, Protocol: ProtocolTCP}},
		{in: "8080:80", want: PortMapping{HostPort: 8080, ContainerPort: 80, Protocol: ProtocolTCP}},
		{in: "0:53/udp", want: PortMapping{ContainerPort: 53, Protocol: ProtocolUDP}},
		{in: "53/UDP", want: PortMapping{ContainerPort: 53, Protocol: ProtocolUDP}},
		{in: "0", wantErr: true},
		{in: "80/icmp", wantErr: true},
		{in: "a:80", wantErr: true},
		{in: "80:", wantErr: true},
		{in: "65536", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParsePortMapping(tt.in)
			if tt.wantErr {
				require.ErrorIs(t, err, ErrInvalid)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			again, err := ParsePortMapping(got.String())
			require.NoError(t, err)
			assert.Equal(t, got, again)
		})
	}
}

func FuzzParsePortMapping(f *testing.F) {
	for _, s := range []string{"80", "8080:80", "0:53/udp", "1:1/tcp", ":/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParsePortMapping(s)
		if err != nil {
			return
		}
		require.NotZero(t, m.ContainerPort)
		again, err := ParsePortMapping(m.String())
		require.NoError(t, err)
		require.Equal(t, m, again)
	})
}

func TestAttachmentClone(t *testing.T) {
	t.Parallel()
	a := &Attachment{TaskID: "t", PortBindings: []PortBinding{{ContainerPort: 1, HostPort: 2, Protocol: ProtocolTCP}}}
	c := a.Clone()
	c.PortBindings[0].HostPort = 3
	assert.Equal(t, uint16(2), a.PortBindings[0].HostPort)
	assert.Nil(t, (*Attachment)(nil).Clone())
}
