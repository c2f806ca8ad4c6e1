package lb

import (
	"bufio"
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// refMatchHost is the reference for matchHost: the textbook dynamic
// program over (pattern prefix, host prefix), byte by byte, with no
// shortcut that a literal '*' or '?' in the host could confuse.
func refMatchHost(pattern, host string) bool {
	host = strings.ToLower(host)
	// m[j]: pattern[:i] matches host[:j], for the current i.
	m := make([]bool, len(host)+1)
	m[0] = true
	for i := range len(pattern) {
		next := make([]bool, len(host)+1)
		switch pattern[i] {
		case '*':
			next[0] = m[0]
			for j := 1; j <= len(host); j++ {
				next[j] = m[j] || next[j-1]
			}
		default:
			for j := 1; j <= len(host); j++ {
				next[j] = m[j-1] && (pattern[i] == '?' || pattern[i] == host[j-1])
			}
		}
		m = next
	}
	return m[len(host)]
}

// regexpMatchHost is a second oracle for ASCII inputs: the pattern as a
// regular expression ('*' is .*, '?' is ., everything else literal).
func regexpMatchHost(pattern, host string) bool {
	var b strings.Builder
	b.WriteString(`(?s)\A`)
	for _, c := range []byte(pattern) {
		switch c {
		case '*':
			b.WriteString(`.*`)
		case '?':
			b.WriteString(`.`)
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString(`\z`)
	return regexp.MustCompile(b.String()).MatchString(strings.ToLower(host))
}

func isASCII(s string) bool {
	for i := range len(s) {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// FuzzMatchHost checks matchHost against refMatchHost on any input, and
// against the regular-expression oracle on ASCII input. It found that a
// literal '*' in the host was consumed before the pattern's wildcard
// ("*.example.com" missed "*x.example.com").
func FuzzMatchHost(f *testing.F) {
	for _, s := range [][2]string{
		{"*.example.com", "*x.example.com"},
		{"*.example.com", "www.example.com"},
		{"api-?.example.com", "api-1.example.com"},
		{"a*b*c", "axxbyyc"},
		{"*a", "*ba"},
		{"?*c", "*xc"},
		{"**", ""},
		{"*?*", "?"},
		{"x", "X"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, host string) {
		if len(pattern) > 256 || len(host) > 256 {
			return // hosts are short; keeps the reference's table small
		}
		pattern = strings.ToLower(pattern) // as SetRules stores it
		got := matchHost(pattern, host)
		if want := refMatchHost(pattern, host); got != want {
			t.Fatalf("matchHost(%q, %q) = %v, reference says %v", pattern, host, got, want)
		}
		if isASCII(pattern) && isASCII(host) {
			if want := regexpMatchHost(pattern, host); got != want {
				t.Fatalf("matchHost(%q, %q) = %v, regexp oracle says %v", pattern, host, got, want)
			}
		}
	})
}

// upgradeTokens lists the protocols of every Upgrade header line.
func upgradeTokens(h http.Header) []string {
	var out []string
	for _, v := range h.Values("Upgrade") {
		for tok := range strings.SplitSeq(v, ",") {
			if tok = strings.TrimSpace(tok); tok != "" {
				out = append(out, tok)
			}
		}
	}
	return out
}

// routeSeeds are raw requests for FuzzRouteRequest.
var routeSeeds = []string{
	"GET /api/users HTTP/1.1\r\nHost: www.example.com\r\n\r\n",
	"GET /x HTTP/1.1\r\nHost: WWW.Example.COM:8080\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: *x.example.com\r\n\r\n",
	"GET /admin/panel HTTP/1.1\r\nHost: admin.test\r\n\r\n",
	"GET /w/x HTTP/1.1\r\nHost: [::1]:80\r\n\r\n",
	"GET http://other.example.com/api/ HTTP/1.1\r\nHost: admin.test\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket, H2C/1.0\r\nUpgrade: h2\r\nConnection: Upgrade\r\n\r\n",
	"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
	"POST /api/upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\nxxxx",
	"POST /api/upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
	"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
	"GET /api/%2e%2e/admin HTTP/1.0\r\n\r\n",
	"GET a:00 HTTP/1.0\r\n\r\n",
	"CONNECT admin.test:443 HTTP/1.1\r\nHost: admin.test:443\r\n\r\n",
	"GET * HTTP/1.1\r\nHost: x\r\n\r\n",
	"GET /w HTTP/1.1\r\nHost: [fe80::1%25eth0]:80\r\n\r\n",
}

// FuzzRouteRequest parses raw bytes as a request, as the listener's
// server would, and routes it: the routing never panics, picks the first
// rule that a reference says matches (or the default), and ServeHTTP
// answers only as documented (404 no rule, 503 no healthy target, 413 too
// long, 505 prior-knowledge HTTP/2, 405 CONNECT, 400 a target that is not
// a path or a Host with an IPv6 zone, 502 an invalid upgrade), with h2c
// taken out of the Upgrade header. The groups have no targets, so nothing
// touches the network.
func FuzzRouteRequest(f *testing.F) {
	for _, s := range routeSeeds {
		f.Add([]byte(s))
	}
	group := func(name string) *TargetGroup {
		g, err := NewTargetGroup(name, HTTP)
		if err != nil {
			f.Fatal(err)
		}
		f.Cleanup(func() { g.Close() })
		return g
	}
	api, site, admin, blue, green, def := group("api"), group("site"), group("admin"), group("blue"), group("green"), group("default")
	fwd, err := NewForwardAction("bluegreen", WeightedTargetGroup{blue, 1}, WeightedTargetGroup{green, 3})
	if err != nil {
		f.Fatal(err)
	}
	rules := []Rule{
		{PathPrefix: "/api/", TargetGroup: api},
		{Host: "*.Example.com", TargetGroup: site},
		{Host: "admin.?est", PathPrefix: "/admin", TargetGroup: admin},
		{Host: "*", PathPrefix: "/w", Forward: fwd},
	}
	const maxBody = 1 << 10
	withDef, err := NewHandler(rules, def, WithLimits(Limits{MaxBodyBytes: maxBody}))
	if err != nil {
		f.Fatal(err)
	}
	withoutDef, err := NewHandler(rules[:3], nil)
	if err != nil {
		f.Fatal(err)
	}

	// want is the reference routing: the first rule whose conditions all
	// hold, else the default.
	want := func(h *Handler, r *http.Request) http.Handler {
		rs := h.routes.Load()
		host := r.Host
		if hp, _, err := net.SplitHostPort(host); err == nil {
			host = hp
		}
		for _, rule := range rs.rules {
			if rule.PathPrefix != "" && !strings.HasPrefix(r.URL.Path, rule.PathPrefix) {
				continue
			}
			if rule.Host != "" && !refMatchHost(strings.ToLower(rule.Host), host) {
				continue
			}
			if rule.Forward != nil {
				return rule.Forward
			}
			return rule.TargetGroup.proxy
		}
		if rs.def != nil {
			return rs.def.proxy
		}
		return nil
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		for _, h := range []*Handler{withDef, withoutDef} {
			req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(data)))
			if err != nil {
				return
			}
			if got, want := h.routes.Load().route(req), want(h, req); got != want {
				t.Fatalf("route(%s %q Host %q) = %v, want %v", req.Method, req.URL.Path, req.Host, got, want)
			}
			routed := want(h, req) != nil
			tooLong := h.limits.MaxBodyBytes > 0 && req.ContentLength > h.limits.MaxBodyBytes
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			switch code := w.Code; {
			case req.Method == "PRI":
				if code != http.StatusHTTPVersionNotSupported {
					t.Fatalf("PRI answered %d", code)
				}
			case req.Method == http.MethodConnect:
				if code != http.StatusMethodNotAllowed {
					t.Fatalf("CONNECT answered %d", code)
				}
			case !originOrAbsolute(req):
				if code != http.StatusBadRequest {
					t.Fatalf("request target %q answered %d", req.RequestURI, code)
				}
			case strings.HasPrefix(req.Host, "[") && strings.Contains(strings.SplitN(req.Host, "]", 2)[0], "%"):
				if code != http.StatusBadRequest {
					t.Fatalf("Host %q with an IPv6 zone answered %d", req.Host, code)
				}
			case tooLong:
				if code != http.StatusRequestEntityTooLarge {
					t.Fatalf("Content-Length %d over %d answered %d", req.ContentLength, h.limits.MaxBodyBytes, code)
				}
			case !routed:
				if code != http.StatusNotFound {
					t.Fatalf("unrouted request answered %d", code)
				}
			case code != http.StatusServiceUnavailable && code != http.StatusBadGateway:
				t.Fatalf("request routed to a group without targets answered %d", code)
			}
			for _, tok := range upgradeTokens(req.Header) {
				if isH2(tok) {
					t.Fatalf("Upgrade still offers %q: %q", tok, req.Header.Values("Upgrade"))
				}
			}
			if req.Method != "PRI" && req.Header.Get("Http2-Settings") != "" {
				t.Fatalf("HTTP2-Settings kept")
			}
		}
	})
}
