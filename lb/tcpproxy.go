package lb

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// tcpProxy forwards each connection accepted on a TCP listener to one
// target of its group and copies bytes both ways until both sides are done.
type tcpProxy struct {
	group   *TargetGroup
	forward atomic.Pointer[ForwardAction] // when set, picks the group per connection
	ln      net.Listener
	count   *connCounter
	idle    time.Duration // TCPIdleTimeout
	log     *slog.Logger
	ctx     context.Context // ends on Close: cuts dials in progress
	cancel  context.CancelFunc
	done    chan struct{} // closed when serve returns

	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	closing bool
	wg      sync.WaitGroup
}

func newTCPProxy(ln net.Listener, g *TargetGroup, count *connCounter, idle time.Duration, log *slog.Logger) *tcpProxy {
	p := &tcpProxy{group: g, ln: ln, count: count, idle: idle, log: log, done: make(chan struct{}), conns: make(map[net.Conn]struct{})}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	return p
}

func (p *tcpProxy) serve() {
	defer close(p.done)
	var backoff time.Duration
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors or the like: wait, as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			p.log.Warn("accept", "err", err, "retryIn", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		if !p.count.acquire() {
			_ = c.Close() // over the cap: TCP has no way to say why
			continue
		}
		if !p.track(c, true) {
			p.count.release()
			_ = c.Close()
			continue
		}
		go p.handle(c)
	}
}

// track remembers c so that Close can cut it; with conn it also counts a
// connection for Shutdown to wait for. It fails once the proxy is closing.
func (p *tcpProxy) track(c net.Conn, conn bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closing {
		return false
	}
	p.conns[c] = struct{}{}
	if conn {
		p.wg.Add(1)
	}
	return true
}

func (p *tcpProxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	_ = c.Close()
}

func (p *tcpProxy) handle(client net.Conn) {
	defer p.wg.Done()
	defer p.count.release()
	defer p.untrack(client)
	group := p.group
	if f := p.forward.Load(); f != nil {
		if group = f.pick(); group == nil {
			return // every weight is 0: the client sees the connection close
		}
	}
	var tried [maxAttempts]*target
	for n := range maxAttempts {
		t := group.pick(tried[:n])
		if t == nil {
			return // no healthy target: the client sees the connection close
		}
		tried[n] = t
		t.requests.Add(1)
		ctx, cancel := context.WithCancel(p.ctx)
		stopDial := context.AfterFunc(t.ctx, cancel)
		backend, err := t.dial(ctx)
		stopDial()
		cancel()
		if err != nil {
			t.errors.Add(1)
			t.release()
			p.log.Debug("connect to target", "target", t.ID, "err", err)
			continue // nothing was sent: try another target
		}
		if !p.track(backend, false) {
			_ = backend.Close()
			t.release()
			return
		}
		cutBoth := func() {
			_ = client.Close()
			_ = backend.Close()
		}
		// The end of the deregistration delay cuts the connection, and
		// so does silence on both sides for the idle timeout.
		stop := context.AfterFunc(t.ctx, cutBoth)
		watch := newIdleWatch(p.idle, func() {
			p.log.Debug("idle timeout, closing connection", "target", t.ID, "client", client.RemoteAddr().String(), "idleTimeout", p.idle)
			cutBoth()
		})
		pipe(client, backend, watch)
		watch.stop()
		if !stop() && t.ctx.Err() != nil {
			t.errors.Add(1)
		}
		p.untrack(backend)
		t.release()
		return
	}
}

// pipe copies a to b and b to a until both directions end, telling
// watch of every read. The end of one direction's input is passed on as a
// half-close of its output, so that each side can still finish sending.
func pipe(a, b net.Conn, watch *idleWatch) {
	done := make(chan struct{})
	go func() {
		copyHalf(b, a, watch)
		close(done)
	}()
	copyHalf(a, b, watch)
	<-done
}

func copyHalf(dst, src net.Conn, watch *idleWatch) {
	buf := proxyBuffers.Get()
	defer proxyBuffers.Put(buf)
	// Plain Read and Write through buf, so that each read is seen (a
	// splice in the kernel would hide the traffic from the idle watch).
	if _, err := io.CopyBuffer(writerOnly{dst}, activityReader{src, watch}, buf); err != nil {
		// Broken: end both directions.
		_ = dst.Close()
		_ = src.Close()
		return
	}
	if cw, ok := dst.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
		return
	}
	_ = dst.Close()
}

// shutdown stops accepting and waits for the connections to end, cutting
// them when ctx ends first.
func (p *tcpProxy) shutdown(ctx context.Context) error {
	p.stopAccepting()
	idle := make(chan struct{})
	go func() {
		p.wg.Wait()
		close(idle)
	}()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		p.cut()
		<-idle
		return ctx.Err()
	}
}

// close stops accepting and cuts every connection.
func (p *tcpProxy) close() error {
	p.stopAccepting()
	p.cut()
	p.wg.Wait()
	return nil
}

func (p *tcpProxy) stopAccepting() {
	p.mu.Lock()
	p.closing = true
	p.mu.Unlock()
	_ = p.ln.Close()
	<-p.done
}

func (p *tcpProxy) cut() {
	p.cancel()
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		_ = c.Close()
	}
}

// writerOnly hides a connection's ReadFrom from io.CopyBuffer.
type writerOnly struct{ io.Writer }

// activityReader tells an idleWatch of every read that brought bytes.
type activityReader struct {
	r     io.Reader
	watch *idleWatch
}

func (a activityReader) Read(p []byte) (int, error) {
	n, err := a.r.Read(p)
	if n > 0 {
		a.watch.touch()
	}
	return n, err
}
