package lb

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"os"
	"sync"
	"time"
)

// connPool is the HTTP/1.1 client of one target: a pool of keep-alive
// connections, each carrying one request at a time. Unlike http.Transport
// it writes the request and reads the response on the caller's goroutine,
// which saves two goroutine hand-offs per request, a good part of the
// proxy's cost. What it leaves out: HTTP/2, proxies, TLS, and sending a
// request body while reading the response (a target that answers before it
// has read the body, and then stops reading, breaks the request).
type connPool struct {
	dial func(context.Context) (net.Conn, error)

	mu     sync.Mutex
	idle   []*poolConn // most recently used last
	conns  map[*poolConn]struct{}
	closed bool // the target is gone: keep nothing, dial nothing
	sweep  *time.Timer
}

const (
	// maxIdleConnsPerTarget keeps enough keep-alive connections for bursts
	// of concurrent requests without redialing.
	maxIdleConnsPerTarget = 256
	// idleConnTimeout closes pooled connections idle this long.
	idleConnTimeout = 90 * time.Second
	// maxResponseHeaderBytes bounds a target's response header.
	maxResponseHeaderBytes = 1 << 20
	// max1xxResponses bounds the informational responses before the final
	// one.
	max1xxResponses = 5
)

var errResponseHeaderTooLarge = errors.New("response header too large")

func newConnPool(dial func(context.Context) (net.Conn, error)) *connPool {
	return &connPool{dial: dial, conns: make(map[*poolConn]struct{})}
}

// poolConn is one connection to the target.
type poolConn struct {
	conn      net.Conn
	tc        timedConn // conn, for the exchanges
	lr        limitReader
	br        *bufio.Reader
	bw        *bufio.Writer
	pool      *connPool
	idleSince time.Time
	closeOnce sync.Once
}

// limitReader bounds the bytes read from a connection while a response
// header is read.
type limitReader struct {
	r io.Reader
	n int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, errResponseHeaderTooLarge
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

// errTargetTimeout is the error of a read from or write to a target that
// made no progress within TargetTimeout; the client gets 504.
var errTargetTimeout = errors.New("target timed out")

// timedConn fails a read or write that makes no progress within timeout
// (none when 0) with errTargetTimeout.
type timedConn struct {
	net.Conn
	timeout time.Duration
}

func (c *timedConn) Read(p []byte) (int, error) {
	if c.timeout > 0 {
		_ = c.Conn.SetReadDeadline(time.Now().Add(c.timeout))
	}
	n, err := c.Conn.Read(p)
	return n, c.timedOut(err)
}

func (c *timedConn) Write(p []byte) (int, error) {
	if c.timeout > 0 {
		_ = c.Conn.SetWriteDeadline(time.Now().Add(c.timeout))
	}
	n, err := c.Conn.Write(p)
	return n, c.timedOut(err)
}

func (c *timedConn) timedOut(err error) error {
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("%w: silent for %s: %w", errTargetTimeout, c.timeout, err)
	}
	return err
}

// untimed lifts the deadlines: the connection goes idle, or carries an
// upgraded protocol whose idleness the proxy watches on both sides.
func (c *timedConn) untimed() {
	c.timeout = 0
	_ = c.Conn.SetDeadline(time.Time{})
}

func (pc *poolConn) close() {
	pc.closeOnce.Do(func() {
		_ = pc.conn.Close()
		p := pc.pool
		p.mu.Lock()
		delete(p.conns, pc)
		p.mu.Unlock()
	})
}

// RoundTrip sends req over a pooled connection, or a new one. A request
// without a body that finds its reused connection closed by the target
// (nothing came back) is sent again over a new connection.
func (p *connPool) RoundTrip(req *http.Request) (*http.Response, error) {
	replayable := req.Body == nil || req.Body == http.NoBody
	for attempt := 0; ; attempt++ {
		pc, reused, err := p.get(req.Context())
		if err != nil {
			return nil, err
		}
		resp, nothingBack, err := pc.roundTrip(req)
		if err == nil {
			return resp, nil
		}
		pc.close()
		if reused && nothingBack && replayable && attempt == 0 && req.Context().Err() == nil {
			continue
		}
		return nil, err
	}
}

// get returns an idle connection that still looks open, or a new one.
func (p *connPool) get(ctx context.Context) (*poolConn, bool, error) {
	p.mu.Lock()
	for len(p.idle) > 0 {
		pc := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		p.mu.Unlock()
		if time.Since(pc.idleSince) < idleConnTimeout && alive(pc.conn) {
			return pc, true, nil
		}
		pc.close()
		p.mu.Lock()
	}
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return nil, false, &dialError{err: errTargetRemoved}
	}
	conn, err := p.dial(ctx)
	if err != nil {
		return nil, false, err
	}
	pc := &poolConn{conn: conn, pool: p}
	pc.tc.Conn = conn
	pc.lr.r = &pc.tc
	pc.br = bufio.NewReaderSize(&pc.lr, 4<<10)
	pc.bw = bufio.NewWriterSize(&pc.tc, 4<<10)
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		_ = conn.Close()
		return nil, false, &dialError{err: errTargetRemoved}
	}
	p.conns[pc] = struct{}{}
	p.mu.Unlock()
	return pc, false, nil
}

var errTargetRemoved = errors.New("target removed")

// put returns a connection whose exchange ended cleanly to the pool.
func (p *connPool) put(pc *poolConn) {
	pc.tc.untimed() // an expired deadline would fail the liveness check
	pc.idleSince = time.Now()
	p.mu.Lock()
	if p.closed || len(p.idle) >= maxIdleConnsPerTarget {
		p.mu.Unlock()
		pc.close()
		return
	}
	p.idle = append(p.idle, pc)
	if p.sweep == nil {
		p.sweep = time.AfterFunc(idleConnTimeout, p.sweepIdle)
	}
	p.mu.Unlock()
}

// sweepIdle closes connections idle longer than idleConnTimeout and runs
// again while some remain.
func (p *connPool) sweepIdle() {
	now := time.Now()
	p.mu.Lock()
	var stale []*poolConn
	keep := p.idle[:0]
	for _, pc := range p.idle { // oldest first
		if now.Sub(pc.idleSince) >= idleConnTimeout {
			stale = append(stale, pc)
		} else {
			keep = append(keep, pc)
		}
	}
	clear(p.idle[len(keep):])
	p.idle = keep
	p.sweep = nil
	if len(p.idle) > 0 && !p.closed {
		p.sweep = time.AfterFunc(idleConnTimeout-now.Sub(p.idle[0].idleSince), p.sweepIdle)
	}
	p.mu.Unlock()
	for _, pc := range stale {
		pc.close()
	}
}

// closeAll closes every connection, in use or idle, and keeps none from
// now on: the target is gone.
func (p *connPool) closeAll() {
	p.mu.Lock()
	p.closed = true
	p.idle = nil
	if p.sweep != nil {
		p.sweep.Stop()
		p.sweep = nil
	}
	conns := make([]*poolConn, 0, len(p.conns))
	for pc := range p.conns {
		conns = append(conns, pc)
	}
	p.mu.Unlock()
	for _, pc := range conns {
		pc.close()
	}
}

// roundTrip writes req and reads the final response header. nothingBack
// reports a failure before any byte of a response came.
func (pc *poolConn) roundTrip(req *http.Request) (resp *http.Response, nothingBack bool, err error) {
	ctx := req.Context()
	pc.tc.timeout = requestLimits(ctx).TargetTimeout
	stop := context.AfterFunc(ctx, pc.close) // the client gave up
	defer func() {
		if err != nil {
			stop()
		}
	}()
	if err := req.Write(pc.bw); err != nil {
		return nil, true, fmt.Errorf("write request: %w", err)
	}
	if err := pc.bw.Flush(); err != nil {
		return nil, true, fmt.Errorf("write request: %w", err)
	}
	trace := httptrace.ContextClientTrace(ctx)
	for n := 0; ; n++ {
		pc.lr.n = maxResponseHeaderBytes
		if _, err := pc.br.Peek(1); err != nil {
			return nil, n == 0, fmt.Errorf("read response: %w", err)
		}
		resp, err = http.ReadResponse(pc.br, req)
		pc.lr.n = math.MaxInt64
		if err != nil {
			return nil, false, fmt.Errorf("read response: %w", err)
		}
		code := resp.StatusCode
		if code < 100 || code > 199 || code == http.StatusSwitchingProtocols {
			break
		}
		if n == max1xxResponses {
			return nil, false, fmt.Errorf("read response: more than %d informational responses", max1xxResponses)
		}
		if trace != nil && trace.Got1xxResponse != nil {
			if err := trace.Got1xxResponse(code, textproto.MIMEHeader(resp.Header)); err != nil {
				return nil, false, err
			}
		}
	}
	switch {
	case resp.StatusCode == http.StatusSwitchingProtocols:
		// The connection now belongs to the upgraded protocol, which the
		// proxy closes when the client's request ends.
		stop()
		pc.tc.untimed()
		resp.Body = &upgradedConn{Reader: pc.br, pc: pc}
	case resp.Body == http.NoBody:
		// Reuse the connection only if the client's cancellation cannot
		// close it any more.
		if stop() && !resp.Close && !req.Close {
			pc.pool.put(pc)
		} else {
			pc.close()
		}
	default:
		resp.Body = &poolBody{body: resp.Body, pc: pc, keep: !resp.Close && !req.Close, stop: stop}
	}
	return resp, false, nil
}

// poolBody is a response body that hands its connection back to the pool
// once read to the end, or closes it when closed before.
type poolBody struct {
	body io.ReadCloser
	pc   *poolConn
	keep bool
	stop func() bool

	mu   sync.Mutex
	done bool
}

func (b *poolBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done {
		return 0, io.EOF
	}
	n, err := b.body.Read(p)
	if err != nil {
		b.finish(err == io.EOF)
	}
	return n, err
}

func (b *poolBody) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.done {
		b.finish(false)
	}
	return nil
}

// finish ends the exchange: the connection goes back to the pool when the
// body was read to its end and the client did not give up meanwhile.
func (b *poolBody) finish(complete bool) {
	b.done = true
	stopped := b.stop()
	if complete && b.keep && stopped {
		b.pc.pool.put(b.pc)
		return
	}
	b.pc.close()
}

// upgradedConn is the body of a 101 Switching Protocols response: the
// connection itself, for the proxy to copy both ways.
type upgradedConn struct {
	io.Reader
	pc *poolConn
}

func (u *upgradedConn) Write(p []byte) (int, error) { return u.pc.tc.Write(p) }

func (u *upgradedConn) Close() error {
	u.pc.close()
	return nil
}
