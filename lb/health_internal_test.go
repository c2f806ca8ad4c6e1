package lb

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestObserve(t *testing.T) {
	t.Parallel()
	hc := HealthCheck{HealthyThreshold: 3, UnhealthyThreshold: 2}
	pass := checkResult{OK: true}
	code := checkResult{Reason: ReasonResponseCodeMismatch, Description: "codes [500]"}
	timeout := checkResult{Reason: ReasonTimeout, Description: "Request timed out"}
	tests := []struct {
		name    string
		from    TargetState
		results []checkResult
		want    []TargetState // state after each result
		reason  string        // final reason
	}{
		{"initial passes once", StateInitial, []checkResult{pass}, []TargetState{StateHealthy}, ""},
		{"initial fails to threshold", StateInitial, []checkResult{code, code}, []TargetState{StateInitial, StateUnhealthy}, ReasonResponseCodeMismatch},
		{"initial recovers before threshold", StateInitial, []checkResult{code, pass}, []TargetState{StateInitial, StateHealthy}, ""},
		{"healthy tolerates one failure", StateHealthy, []checkResult{code, pass, code}, []TargetState{StateHealthy, StateHealthy, StateHealthy}, ""},
		{"healthy fails to threshold", StateHealthy, []checkResult{code, timeout}, []TargetState{StateHealthy, StateUnhealthy}, ReasonTimeout},
		{"unhealthy needs threshold passes", StateUnhealthy, []checkResult{pass, pass, pass}, []TargetState{StateUnhealthy, StateUnhealthy, StateHealthy}, ""},
		{"unhealthy pass count resets on failure", StateUnhealthy, []checkResult{pass, pass, code, pass, pass}, []TargetState{StateUnhealthy, StateUnhealthy, StateUnhealthy, StateUnhealthy, StateUnhealthy}, ReasonResponseCodeMismatch},
		{"unhealthy keeps latest reason", StateUnhealthy, []checkResult{timeout}, []TargetState{StateUnhealthy}, ReasonTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := healthState{Health: TargetHealth{State: tt.from}}
			var got []TargetState
			for _, r := range tt.results {
				s = s.observe(hc, r)
				got = append(got, s.Health.State)
			}
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.reason, s.Health.Reason)
			if s.Health.State == StateInitial {
				assert.Equal(t, ReasonInitialHealthChecking, s.Health.Reason)
			}
		})
	}
}

func TestMatchHost(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern, host string
		want          bool
	}{
		{"example.com", "example.com", true},
		{"example.com", "EXAMPLE.com", true},
		{"example.com", "www.example.com", false},
		{"*.example.com", "www.example.com", true},
		{"*.example.com", "a.b.example.com", true},
		{"*.example.com", "example.com", false},
		{"api-?.example.com", "api-1.example.com", true},
		{"api-?.example.com", "api-12.example.com", false},
		{"*", "anything", true},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxbyy", false},
		// A literal '*' or '?' in the host is a character like any other:
		// the pattern's wildcard must not take it as a literal first.
		{"*.example.com", "*x.example.com", true},
		{"*.example.com", "*.example.com", true},
		{"a*", "a*", true},
		{"*a", "*ba", true},
		{"?*c", "*xc", true},
		{"*", "", true},
		{"?", "", false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, matchHost(tt.pattern, tt.host), "%s ~ %s", tt.pattern, tt.host)
	}
}

func TestParseMatcher(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		pass    []int
		fail    []int
		wantErr bool
	}{
		{in: "200", pass: []int{200}, fail: []int{201, 302, 500}},
		{in: "200-299", pass: []int{200, 250, 299}, fail: []int{300, 199}},
		{in: "200-299,302", pass: []int{204, 302}, fail: []int{301, 404}},
		{in: " 200 , 404 ", pass: []int{200, 404}, fail: []int{403}},
		{in: "", wantErr: true},
		{in: "abc", wantErr: true},
		{in: "199", wantErr: true},
		{in: "500", wantErr: true},
		{in: "299-200", wantErr: true},
		{in: "200,", wantErr: true},
	}
	for _, tt := range tests {
		m, err := parseMatcher(tt.in)
		if tt.wantErr {
			assert.Error(t, err, tt.in)
			continue
		}
		assert.NoError(t, err, tt.in)
		for _, c := range tt.pass {
			assert.True(t, m.match(c), "%q should pass %d", tt.in, c)
		}
		for _, c := range tt.fail {
			assert.False(t, m.match(c), "%q should fail %d", tt.in, c)
		}
	}
}

// BenchmarkForwardActionPick measures the weighted choice of a target
// group, with both groups able to serve.
func BenchmarkForwardActionPick(b *testing.B) {
	blue, green := servingGroup(b, "blue"), servingGroup(b, "green")
	f, err := NewForwardAction("prod", WeightedTargetGroup{TargetGroup: blue, Weight: 900}, WeightedTargetGroup{TargetGroup: green, Weight: 100})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if f.pick() == nil {
				b.Fatal("no group")
			}
		}
	})
}

// servingGroup is a group whose route set has one healthy target (no
// health checks run).
func servingGroup(b *testing.B, name string) *TargetGroup {
	g, err := NewTargetGroup(name, HTTP)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { g.Close() })
	g.routes.Store(&routeSet{healthy: []*target{{Target: Target{ID: name + "-1", Addr: "127.0.0.1:1"}}}})
	return g
}
