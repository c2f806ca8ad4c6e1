package lb

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/textproto"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// screen answers the requests the Handler refuses before routing, and
// takes h2c out of an Upgrade header unless it is allowed. It reports
// whether it answered.
func (h *Handler) screen(w http.ResponseWriter, r *http.Request) bool {
	if !h.limits.AllowH2CUpgrade {
		// First, so that no request leaves the screen offering HTTP/2,
		// whatever answers it.
		stripH2C(r.Header)
	}
	if r.Method == "PRI" {
		// HTTP/2 with prior knowledge: the targets get HTTP/1.1 only.
		w.Header().Set("Connection", "close")
		http.Error(w, "HTTP/2 without TLS is not supported", http.StatusHTTPVersionNotSupported)
		return true
	}
	if r.Method == http.MethodConnect {
		// Not a forward proxy: the target would be asked for a tunnel
		// to its own address, in which no rule applies.
		http.Error(w, "CONNECT is not supported", http.StatusMethodNotAllowed)
		return true
	}
	if !originOrAbsolute(r) {
		w.Header().Set("Connection", "close")
		http.Error(w, "the request target must be a path", http.StatusBadRequest)
		return true
	}
	if zonedHost(r.Host) {
		// net/http drops an IPv6 zone ("%...") from the Host it sends
		// on: the target would get another name than the client gave.
		// A zone means nothing beyond the client's host: refuse it.
		w.Header().Set("Connection", "close")
		http.Error(w, "the Host must not carry an IPv6 zone", http.StatusBadRequest)
		return true
	}
	if max := h.limits.MaxBodyBytes; max > 0 && r.ContentLength > max {
		w.Header().Set("Connection", "close")
		http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
		return true
	}
	return false
}

// zonedHost reports whether host is an IPv6 literal with a zone
// ("[fe80::1%eth0]:80"), which http.Request.Write removes.
func zonedHost(host string) bool {
	if !strings.HasPrefix(host, "[") {
		return false
	}
	end := strings.IndexByte(host, ']')
	if end < 0 {
		end = len(host)
	}
	return strings.Contains(host[:end], "%")
}

// originOrAbsolute reports whether r's target is a path ("/a?b"), an
// absolute URL ("http://host/a"), or "*" for OPTIONS: the forms whose
// path the rules match and the target gets back unchanged. An opaque
// target ("a:b") would reach the target as "b".
func originOrAbsolute(r *http.Request) bool {
	switch u := r.URL; {
	case u.Opaque != "":
		return false
	case u.Path == "*":
		return r.Method == http.MethodOptions
	default:
		return u.Path == "" || u.Path[0] == '/'
	}
}

// stripH2C takes the h2c protocol (and h2, which is never a valid
// Upgrade) out of the Upgrade header, dropping the header when nothing is
// left, and drops HTTP2-Settings.
func stripH2C(h http.Header) {
	h.Del("Http2-Settings")
	vals := h.Values("Upgrade")
	if len(vals) == 0 {
		return
	}
	var keep []string
	stripped := false
	for _, v := range vals {
		for tok := range strings.SplitSeq(v, ",") {
			tok = textproto.TrimString(tok)
			if tok == "" {
				continue
			}
			if isH2(tok) {
				stripped = true
				continue
			}
			keep = append(keep, tok)
		}
	}
	switch {
	case !stripped:
	case len(keep) == 0:
		h.Del("Upgrade")
	default:
		h["Upgrade"] = []string{strings.Join(keep, ", ")}
	}
}

// isH2 reports whether an Upgrade token (protocol or protocol/version)
// names HTTP/2.
func isH2(tok string) bool {
	name, _, _ := strings.Cut(tok, "/")
	name = textproto.TrimString(name)
	return strings.EqualFold(name, "h2c") || strings.EqualFold(name, "h2")
}

// guardKey carries a request's guard from the Handler to the transport
// and the error handler.
type guardKey struct{}

// requestGuard is what the Handler tells the proxy about a request: its
// limits, and its body (nil without one), which knows why it failed.
type requestGuard struct {
	limits *Limits
	body   *clientBody
}

var defaultGuard = requestGuard{limits: &defaultLimits}

var defaultLimits = DefaultLimits()

// guardOf returns the guard the Handler put in ctx, or one with the
// default limits.
func guardOf(ctx context.Context) *requestGuard {
	if g, ok := ctx.Value(guardKey{}).(*requestGuard); ok {
		return g
	}
	return &defaultGuard
}

// requestLimits returns the limits of the request of ctx.
func requestLimits(ctx context.Context) *Limits { return guardOf(ctx).limits }

// bodyFailure returns why the body of the request of ctx failed, if it
// did.
func bodyFailure(ctx context.Context) int32 {
	if b := guardOf(ctx).body; b != nil {
		return b.failed.Load()
	}
	return bodyOK
}

// forward serves r with next under the Handler's limits: the request body
// must make progress within IdleTimeout and stay under MaxBodyBytes, each
// write of the response must make progress within IdleTimeout, and the
// transport finds TargetTimeout in the request's context.
func (h *Handler) forward(next http.Handler, w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	dw := &deadlineWriter{ResponseWriter: w, rc: rc, idle: h.limits.IdleTimeout}
	dw.extend()       // also covers 100 Continue, written when the body is first read
	defer dw.extend() // covers the server's final flush
	guard := &requestGuard{limits: &h.limits}
	if r.Body != nil && r.Body != http.NoBody {
		guard.body = &clientBody{body: r.Body, rc: rc, idle: h.limits.IdleTimeout, max: h.limits.MaxBodyBytes}
		r.Body = guard.body
	}
	next.ServeHTTP(dw, r.WithContext(context.WithValue(r.Context(), guardKey{}, guard)))
}

// Why a client's request body failed.
const (
	bodyOK int32 = iota
	bodyTimedOut
	bodyTooLarge
)

// errBodyTooLarge is the read error of a request body past MaxBodyBytes.
var errBodyTooLarge = errors.New("request body too large")

// clientBody is a request body that must make progress within idle and
// stay under max bytes (0: no limit). It remembers why it failed, for the
// status of the answer (408 or 413).
type clientBody struct {
	body   io.ReadCloser
	rc     *http.ResponseController
	idle   time.Duration
	max    int64
	n      int64
	failed atomic.Int32
}

func (b *clientBody) Read(p []byte) (int, error) {
	if b.max > 0 && int64(len(p)) > b.max-b.n+1 {
		p = p[:b.max-b.n+1] // one byte more than allowed tells too large from EOF
	}
	_ = b.rc.SetReadDeadline(time.Now().Add(b.idle))
	n, err := b.body.Read(p)
	b.n += int64(n)
	switch {
	case b.max > 0 && b.n > b.max:
		b.failed.Store(bodyTooLarge)
		return 0, errBodyTooLarge
	case err == io.EOF:
		// The connection is idle now until the response: its read
		// deadline no longer applies (the server reads in the background
		// to see the client go away).
		_ = b.rc.SetReadDeadline(time.Time{})
	case err != nil && errors.Is(err, os.ErrDeadlineExceeded):
		b.failed.Store(bodyTimedOut)
	}
	return n, err
}

func (b *clientBody) Close() error { return b.body.Close() }

// deadlineWriter gives each write of a response idle to make progress.
type deadlineWriter struct {
	http.ResponseWriter
	rc   *http.ResponseController
	idle time.Duration
}

func (w *deadlineWriter) extend() { _ = w.rc.SetWriteDeadline(time.Now().Add(w.idle)) }

func (w *deadlineWriter) WriteHeader(code int) {
	w.extend()
	w.ResponseWriter.WriteHeader(code)
}

func (w *deadlineWriter) Write(p []byte) (int, error) {
	w.extend()
	return w.ResponseWriter.Write(p)
}

// FlushError flushes through http.ResponseController, as ReverseProxy
// does.
func (w *deadlineWriter) FlushError() error {
	w.extend()
	return w.rc.Flush()
}

// Unwrap lets http.ResponseController reach the server's writer, to hijack
// the connection for an upgrade (which lifts its deadlines: the proxy then
// watches the tunnel's idleness on both sides).
func (w *deadlineWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
