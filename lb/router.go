package lb

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
)

// Rule sends the HTTP requests that match it to a target group. A request
// matches when it matches every condition the rule sets.
type Rule struct {
	// Host matches the Host header without its port, case-insensitively;
	// '*' matches any run of characters and '?' one character, as in
	// "*.example.com".
	Host string
	// PathPrefix matches paths that start with it; "/api/" matches
	// /api/ and below, "/api" also /apix.
	PathPrefix string
	// TargetGroup receives the matching requests; an HTTP group.
	TargetGroup *TargetGroup
	// Forward, instead of TargetGroup, spreads the matching requests over
	// several target groups by weight.
	Forward *ForwardAction
}

// Handler routes HTTP requests to target groups by rules, in order: the
// first matching rule wins; requests no rule matches go to the default
// group (or default forward action), or get 404 when there is none. A
// Handler is what HTTP listeners serve; it can also be mounted in any
// http.Server. It applies the Limits that act on requests (IdleTimeout to
// request bodies and responses, TargetTimeout, MaxBodyBytes,
// AllowH2CUpgrade); those on connections (MaxConns, ReadHeaderTimeout,
// MaxHeaderBytes, IdleTimeout between requests) are the server's. It sets
// the connection's read and write deadlines through
// http.ResponseController and leaves a write deadline IdleTimeout ahead
// when it returns; a server of your own should clear it when the
// connection goes idle (ConnState), as the listeners do, or the server's
// own answer to a bad next request may be lost.
type Handler struct {
	routes atomic.Pointer[routes]
	limits Limits
}

type routes struct {
	rules  []Rule
	def    *TargetGroup
	defFwd *ForwardAction
}

// NewHandler returns a Handler for rules and the default group def (nil
// for 404). Of the options, WithLimits applies.
func NewHandler(rules []Rule, def *TargetGroup, opts ...Option) (*Handler, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	h := &Handler{limits: o.limits}
	if err := h.SetRules(rules, def); err != nil {
		return nil, err
	}
	return h, nil
}

// SetRules replaces the rules and the default group (a default forward
// action set by SetDefaultForward stays); requests in flight finish where
// they were sent.
func (h *Handler) SetRules(rules []Rule, def *TargetGroup) error {
	rs := &routes{rules: make([]Rule, len(rules)), def: def}
	for i, r := range rules {
		field := fmt.Sprintf("rules[%d]", i)
		switch {
		case r.Host == "" && r.PathPrefix == "":
			return invalid(field, "needs a host or a path prefix")
		case r.PathPrefix != "" && !strings.HasPrefix(r.PathPrefix, "/"):
			return invalid(field+".pathPrefix", "must start with /, got %q", r.PathPrefix)
		case r.TargetGroup != nil && r.Forward != nil:
			return invalid(field+".forward", "a rule has a target group or a forward action, not both")
		case r.Forward != nil && r.Forward.protocol != HTTP:
			return invalid(field+".forward", "%s forwards to %s groups, want HTTP", r.Forward.name, r.Forward.protocol)
		case r.Forward != nil:
		case r.TargetGroup == nil:
			return invalid(field+".targetGroup", "is required")
		case r.TargetGroup.protocol != HTTP:
			return invalid(field+".targetGroup", "%s has protocol %s, want HTTP", r.TargetGroup.name, r.TargetGroup.protocol)
		}
		r.Host = strings.ToLower(r.Host)
		rs.rules[i] = r
	}
	if def != nil && def.protocol != HTTP {
		return invalid("defaultTargetGroup", "%s has protocol %s, want HTTP", def.name, def.protocol)
	}
	for {
		cur := h.routes.Load()
		if cur != nil {
			rs.defFwd = cur.defFwd
		}
		if h.routes.CompareAndSwap(cur, rs) {
			return nil
		}
	}
}

// SetDefaultForward makes f the default action, for the requests no rule
// matches, in place of the default group; nil goes back to the default
// group. The rules are unchanged.
func (h *Handler) SetDefaultForward(f *ForwardAction) {
	for {
		cur := h.routes.Load()
		next := *cur
		next.defFwd = f
		if h.routes.CompareAndSwap(cur, &next) {
			return
		}
	}
}

// ServeHTTP forwards r to the target group its route names.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if refused := h.screen(w, r); refused {
		return
	}
	next := h.routes.Load().route(r)
	if next == nil {
		http.Error(w, "no rule matches the request", http.StatusNotFound)
		return
	}
	h.forward(next, w, r)
}

// route returns what serves r: a forward action or a group's proxy; nil
// for none.
func (rs *routes) route(r *http.Request) http.Handler {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	for _, rule := range rs.rules {
		if rule.PathPrefix != "" && !strings.HasPrefix(r.URL.Path, rule.PathPrefix) {
			continue
		}
		if rule.Host != "" && !matchHost(rule.Host, host) {
			continue
		}
		if rule.Forward != nil {
			return rule.Forward
		}
		return rule.TargetGroup.proxy
	}
	switch {
	case rs.defFwd != nil:
		return rs.defFwd
	case rs.def != nil:
		return rs.def.proxy
	}
	return nil
}

// matchHost matches host against a lower-case pattern with '*' (any run
// of characters) and '?' (one character), ignoring case.
func matchHost(pattern, host string) bool {
	host = strings.ToLower(host)
	// Iterative glob match: on a mismatch, let the last '*' take one more
	// character.
	p, h := 0, 0
	star, mark := -1, 0
	for h < len(host) {
		switch {
		// A '*' in the pattern is a wildcard even where the host has a
		// literal '*': tested first, so that the literal case cannot
		// consume it.
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, h
			p++
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == host[h]):
			p++
			h++
		case star >= 0:
			p = star + 1
			mark++
			h = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
