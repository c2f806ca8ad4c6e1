package lb

import (
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// ListenerStats are a listener's counters since it opened.
type ListenerStats struct {
	// Active is the number of client connections open now.
	Active int64 `json:"active"`
	// Refused counts the client connections turned away because Active
	// had reached Limits.MaxConns.
	Refused uint64 `json:"refused"`
}

// connCounter counts a listener's open connections against its cap and
// logs refusals, at most one line a second.
type connCounter struct {
	max     int64
	active  atomic.Int64
	refused atomic.Uint64
	log     *slog.Logger
	logged  atomic.Int64 // unix nanos of the last refusal logged
}

// acquire counts a new connection, or reports that the cap is reached
// (the refusal is counted and logged).
func (c *connCounter) acquire() bool {
	if c.active.Add(1) <= c.max {
		return true
	}
	c.active.Add(-1)
	n := c.refused.Add(1)
	now := time.Now().UnixNano()
	if last := c.logged.Load(); now-last >= int64(time.Second) && c.logged.CompareAndSwap(last, now) {
		c.log.Warn("connection limit reached, refusing connections", "maxConns", c.max, "refused", n)
	}
	return false
}

func (c *connCounter) release() { c.active.Add(-1) }

func (c *connCounter) stats() ListenerStats {
	return ListenerStats{Active: c.active.Load(), Refused: c.refused.Load()}
}

// Refusals of HTTP connections beyond the cap.
const (
	// maxRefusing bounds the refusals answered at once; beyond it a
	// connection is closed without an answer.
	maxRefusing = 64
	// refuseTimeout bounds the answer to a refused connection.
	refuseTimeout = time.Second
)

var tooManyConnections = func() string {
	body := "too many connections, try again later\n"
	return "HTTP/1.1 503 Service Unavailable\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n" +
		"Connection: close\r\n" +
		"Retry-After: 1\r\n" +
		"\r\n" + body
}()

// cappedListener is an HTTP listener's net.Listener: it hands the server
// connections up to the cap and answers the others with 503.
type cappedListener struct {
	net.Listener
	count    *connCounter
	refusing chan struct{} // semaphore of refusals in progress
	wg       sync.WaitGroup
}

func newCappedListener(ln net.Listener, count *connCounter) *cappedListener {
	return &cappedListener{Listener: ln, count: count, refusing: make(chan struct{}, maxRefusing)}
}

func (l *cappedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.count.acquire() {
			return &countedConn{Conn: c, count: l.count}, nil
		}
		l.refuse(c)
	}
}

// refuse answers c with 503 and closes it, off the accept loop. It reads
// what the client sends for a moment after the answer, so that closing
// does not reset the connection before the client has read it.
func (l *cappedListener) refuse(c net.Conn) {
	select {
	case l.refusing <- struct{}{}:
	default:
		_ = c.Close()
		return
	}
	l.wg.Go(func() {
		defer func() { <-l.refusing }()
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(refuseTimeout))
		if _, err := io.WriteString(c, tooManyConnections); err != nil {
			return
		}
		if cw, ok := c.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(c, 64<<10))
	})
}

// wait waits for the refusals in progress; call it after Close.
func (l *cappedListener) wait() { l.wg.Wait() }

// countedConn releases its place under the cap when it closes.
type countedConn struct {
	net.Conn
	count *connCounter
	once  sync.Once
}

func (c *countedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.count.release)
	return err
}
