package lb

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"sync"
	"sync/atomic"
)

// errNoHealthyTarget is what the proxy reports, as 503, when a group has no
// target to take a request.
var errNoHealthyTarget = errors.New("no healthy target")

// maxAttempts bounds the targets one HTTP request or TCP connection tries.
const maxAttempts = 3

// newProxy returns the reverse proxy that forwards requests to the group.
func (g *TargetGroup) newProxy() *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = "http"
			pr.Out.URL.Host = g.name // replaced by the target's address
			pr.Out.Host = pr.In.Host
			// Append the client to the X-Forwarded-For it sent, as ALB does.
			pr.Out.Header["X-Forwarded-For"] = pr.In.Header["X-Forwarded-For"]
			pr.SetXForwarded()
			if a, ok := pr.In.Context().Value(http.LocalAddrContextKey).(*net.TCPAddr); ok {
				pr.Out.Header.Set("X-Forwarded-Port", strconv.Itoa(a.Port))
			}
		},
		Transport:    groupTransport{g},
		BufferPool:   proxyBuffers,
		ErrorHandler: g.proxyError,
		ErrorLog:     log.New(io.Discard, "", 0),
	}
}

// proxyError answers a request the group could not forward: 408 when the
// client's body stalled, 413 when it was too large, 503 when the group had
// no healthy target, 504 when the target stayed silent past TargetTimeout
// or did not accept the connection within the connect timeout (10 s), 502
// when the target failed otherwise.
func (g *TargetGroup) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusBadGateway
	switch {
	case bodyFailure(r.Context()) == bodyTimedOut:
		status = http.StatusRequestTimeout
	case bodyFailure(r.Context()) == bodyTooLarge:
		status = http.StatusRequestEntityTooLarge
	case errors.Is(err, errNoHealthyTarget):
		status = http.StatusServiceUnavailable
	case errors.Is(err, errTargetTimeout), connectTimedOut(err):
		status = http.StatusGatewayTimeout
	}
	g.log.Debug("proxy error", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	if status == http.StatusRequestTimeout || status == http.StatusRequestEntityTooLarge {
		// The rest of the body is not worth reading.
		w.Header().Set("Connection", "close")
	}
	w.WriteHeader(status)
}

// connectTimedOut reports a connection to a target that did not open
// within the connect timeout, which ALB answers with 504 too.
func connectTimedOut(err error) bool {
	var de *dialError
	return errors.As(err, &de) && errors.Is(de.err, context.DeadlineExceeded)
}

// groupTransport sends each request to a target of the group. A request
// that could not connect to its target (nothing was sent) is retried on
// another target when it is idempotent and has no body.
type groupTransport struct{ g *TargetGroup }

func (gt groupTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	retryable := idempotent(req.Method) && (req.Body == nil || req.Body == http.NoBody)
	var tried [maxAttempts]*target
	var lastErr error
	for n := 0; ; n++ {
		t := gt.g.pick(tried[:n])
		if t == nil {
			if lastErr != nil {
				return nil, lastErr
			}
			return nil, errNoHealthyTarget
		}
		tried[n] = t
		resp, err := t.roundTrip(req)
		if err == nil {
			return resp, nil
		}
		lastErr = err
		var de *dialError
		if !retryable || n+1 == maxAttempts || req.Context().Err() != nil || !errors.As(err, &de) {
			return nil, err
		}
	}
}

func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// roundTrip sends req to t, which pick has counted active. The count drops
// when the response body is closed. Removing t closes its connections,
// which cuts the request.
func (t *target) roundTrip(req *http.Request) (*http.Response, error) {
	t.requests.Add(1)
	out := *req
	u := *req.URL
	u.Host = t.Addr
	out.URL = &u
	resp, err := t.pool.RoundTrip(&out)
	if err != nil {
		if req.Context().Err() == nil && bodyFailure(req.Context()) == bodyOK { // not the client's fault
			t.errors.Add(1)
		}
		t.release()
		return nil, err
	}
	if resp.StatusCode >= 500 {
		t.errors.Add(1)
	}
	tb := &trackedBody{ReadCloser: resp.Body, t: t, req: req}
	if rwc, ok := resp.Body.(io.ReadWriteCloser); ok { // 101 Switching Protocols
		// Silence both ways for the idle timeout closes the tunnel, as
		// ALB does with WebSockets: the proxy then closes the client's
		// side too.
		up := &trackedUpgrade{trackedBody: tb, w: rwc}
		up.watch = newIdleWatch(requestLimits(req.Context()).IdleTimeout, func() { _ = rwc.Close() })
		resp.Body = up
	} else {
		resp.Body = tb
	}
	return resp, nil
}

// trackedBody ends a request's accounting when its response body closes.
type trackedBody struct {
	io.ReadCloser
	t      *target
	req    *http.Request
	broken atomic.Bool
	once   sync.Once
}

func (b *trackedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF && b.req.Context().Err() == nil {
		b.broken.Store(true) // the target broke off, or was removed
	}
	return n, err
}

func (b *trackedBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(func() {
		if b.broken.Load() {
			b.t.errors.Add(1)
		}
		b.t.release()
	})
	return err
}

// trackedUpgrade is a trackedBody that the proxy can also write to: an
// upgraded connection, closed when idle.
type trackedUpgrade struct {
	*trackedBody
	w     io.Writer
	watch *idleWatch
}

func (b *trackedUpgrade) Read(p []byte) (int, error) {
	n, err := b.trackedBody.Read(p)
	if n > 0 {
		b.watch.touch()
	}
	return n, err
}

func (b *trackedUpgrade) Write(p []byte) (int, error) {
	n, err := b.w.Write(p)
	if n > 0 {
		b.watch.touch()
	}
	return n, err
}

func (b *trackedUpgrade) Close() error {
	b.watch.stop()
	return b.trackedBody.Close()
}

// proxyBuffers recycles the buffers that copy response bodies.
var proxyBuffers = &bufferPool{pool: sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}}

type bufferPool struct{ pool sync.Pool }

func (p *bufferPool) Get() []byte  { return *p.pool.Get().(*[]byte) }
func (p *bufferPool) Put(b []byte) { p.pool.Put(&b) }
