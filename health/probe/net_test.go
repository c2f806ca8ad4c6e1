package probe

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stevedore-io/stevedore/health"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseStatusMatcher(t *testing.T) {
	t.Parallel()
	tests := []struct {
		spec    string
		match   []int
		nomatch []int
		str     string
		wantErr string
	}{
		{spec: "200", match: []int{200}, nomatch: []int{199, 201, 302}, str: "200"},
		{spec: "200-299", match: []int{200, 250, 299}, nomatch: []int{199, 300}, str: "200-299"},
		{spec: "200,302", match: []int{200, 302}, nomatch: []int{201, 301, 303}, str: "200,302"},
		{spec: " 200 - 204 , 302 ", match: []int{200, 204, 302}, nomatch: []int{205}, str: "200-204,302"},
		{spec: "100-599", match: []int{100, 599}, nomatch: []int{99, 600}, str: "100-599"},
		{spec: "", wantErr: "empty"},
		{spec: " ", wantErr: "empty"},
		{spec: "abc", wantErr: `"abc" is not a three-digit status code`},
		{spec: "200,", wantErr: `"" is not a three-digit status code`},
		{spec: "2000", wantErr: "not a three-digit"},
		{spec: "+20", wantErr: "status 20 out of range [100, 599]"},
		{spec: "099", wantErr: "status 99 out of range"},
		{spec: "600", wantErr: "status 600 out of range"},
		{spec: "299-200", wantErr: `range "299-200" ends before it starts`},
		{spec: "200-", wantErr: "not a three-digit"},
		{spec: "-200", wantErr: "not a three-digit"},
		{spec: "200-250-299", wantErr: `"250-299" is not a three-digit`},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			t.Parallel()
			m, err := ParseStatusMatcher(tt.spec)
			if tt.wantErr != "" {
				require.ErrorIs(t, err, ErrInvalidStatusMatcher)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			for _, c := range tt.match {
				assert.True(t, m.Match(c), "%d should match", c)
			}
			for _, c := range tt.nomatch {
				assert.False(t, m.Match(c), "%d should not match", c)
			}
			assert.Equal(t, tt.str, m.String())
		})
	}
	assert.False(t, StatusMatcher{}.Match(200), "the zero matcher matches nothing")
}

func FuzzParseStatusMatcher(f *testing.F) {
	for _, s := range []string{"200", "200-299", "200,302", " 200 - 204 , 302 ", "", "abc", "299-200"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		m, err := ParseStatusMatcher(spec)
		if err != nil {
			require.ErrorIs(t, err, ErrInvalidStatusMatcher)
			return
		}
		// String is parseable and means the same.
		again, err := ParseStatusMatcher(m.String())
		require.NoError(t, err)
		require.Equal(t, m.String(), again.String())
		for code := 0; code < 700; code++ {
			require.Equal(t, m.Match(code), again.Match(code), "code %d", code)
			if code < 100 || code > 599 {
				require.False(t, m.Match(code), "code %d", code)
			}
		}
	})
}

func TestNetProberArguments(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		build   func() error
		wantErr string
	}{
		{"port 0", func() error { _, err := NewHTTP(0, "/"); return err }, "port 0 out of range"},
		{"port too high", func() error { _, err := NewTCP(65536); return err }, "port 65536 out of range"},
		{"relative path", func() error { _, err := NewHTTP(80, "health"); return err }, `path "health" must start with /`},
		{"bad path", func() error { _, err := NewHTTP(80, "/%zz"); return err }, "url"},
		{"empty host", func() error { _, err := NewTCP(80, WithHost("")); return err }, "empty host"},
		{"zero timeout", func() error { _, err := NewTCP(80, WithTimeout(0)); return err }, "must be positive"},
		{"nil dialer", func() error { _, err := NewHTTP(80, "/", WithDialer(nil)); return err }, "nil DialFunc"},
		{"status on TCP", func() error { _, err := NewTCP(80, WithExpectedStatus("200")); return err }, "HTTP probers only"},
		{"bad status", func() error { _, err := NewHTTP(80, "/", WithExpectedStatus("2xx")); return err }, "not a three-digit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.build()
			require.ErrorIs(t, err, ErrInvalid)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}

	p, err := NewHTTP(8080, "")
	require.NoError(t, err)
	assert.Equal(t, "http://127.0.0.1:8080/", p.URL())
	p, err = NewHTTP(80, "/health?deep=1", WithHost("::1"))
	require.NoError(t, err)
	assert.Equal(t, "http://[::1]:80/health?deep=1", p.URL())
	tp, err := NewTCP(5432, WithHost("10.0.0.7"))
	require.NoError(t, err)
	assert.Equal(t, "10.0.0.7:5432", tp.Addr())
}

// testServer starts an HTTP server on loopback and returns its port.
func testServer(t *testing.T) int {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		_, _ = fmt.Fprint(w, "fine")
	})
	mux.HandleFunc("/query", func(w http.ResponseWriter, r *http.Request) {
		_, _ = fmt.Fprint(w, r.URL.RawQuery)
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/down", http.StatusFound)
	})
	mux.HandleFunc("/down", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "database unreachable", http.StatusServiceUnavailable)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().(*net.TCPAddr).Port
}

// closedPort returns a loopback port that nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	return port
}

func TestHTTPProber(t *testing.T) {
	t.Parallel()
	port := testServer(t)
	tests := []struct {
		name   string
		path   string
		opts   []Option
		ok     bool
		output string
	}{
		{"200", "/ok", nil, true, "GET http://127.0.0.1:%d/ok: 200 OK\nfine"},
		{"query kept", "/query?deep=1", nil, true, "GET http://127.0.0.1:%d/query?deep=1: 200 OK\ndeep=1"},
		{"503", "/down", nil, false, "GET http://127.0.0.1:%d/down: 503 Service Unavailable\ndatabase unreachable\n\nstatus 503, want 200-399"},
		{"503 expected", "/down", []Option{WithExpectedStatus("200,503")}, true, "GET http://127.0.0.1:%d/down: 503 Service Unavailable\ndatabase unreachable\n"},
		{"redirect not followed", "/redirect", nil, true, "GET http://127.0.0.1:%d/redirect: 302 Found"},
		{"redirect unexpected", "/redirect", []Option{WithExpectedStatus("200-299")}, false, "GET http://127.0.0.1:%d/redirect: 302 Found"},
		{"404", "/missing", nil, false, "GET http://127.0.0.1:%d/missing: 404 Not Found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := NewHTTP(port, tt.path, tt.opts...)
			require.NoError(t, err)
			before := time.Now()
			r := p.Probe(t.Context())
			require.NoError(t, r.Err)
			assert.Equal(t, tt.ok, r.OK)
			assert.Equal(t, map[bool]int{true: 0, false: 1}[tt.ok], r.ExitCode)
			assert.False(t, r.TimedOut)
			assert.Contains(t, r.Output, fmt.Sprintf(tt.output, port))
			assert.False(t, r.Time.Before(before))
			assert.Positive(t, r.Duration)
		})
	}
}

func TestHTTPProberConnectionRefused(t *testing.T) {
	t.Parallel()
	p, err := NewHTTP(closedPort(t), "/")
	require.NoError(t, err)
	r := p.Probe(t.Context())
	assert.False(t, r.OK)
	assert.Equal(t, 1, r.ExitCode)
	assert.False(t, r.TimedOut)
	require.Error(t, r.Err)
	assert.Contains(t, r.Err.Error(), "refused")
}

// recordingDialer dials loopback with a net.Dialer and records the
// addresses it was asked for.
type recordingDialer struct {
	mu    sync.Mutex
	addrs []string
}

func (d *recordingDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.addrs = append(d.addrs, network+" "+addr)
	d.mu.Unlock()
	return (&net.Dialer{}).DialContext(ctx, network, addr)
}

func TestNetProbersUseDialer(t *testing.T) {
	t.Parallel()
	port := testServer(t)
	d := &recordingDialer{}
	hp, err := NewHTTP(port, "/ok", WithDialer(d.dial), WithHost("127.0.0.1"))
	require.NoError(t, err)
	tp, err := NewTCP(port, WithDialer(d.dial))
	require.NoError(t, err)
	for range 2 {
		assert.True(t, hp.Probe(t.Context()).OK)
	}
	assert.True(t, tp.Probe(t.Context()).OK)
	addr := "tcp 127.0.0.1:" + strconv.Itoa(port)
	// One connection per HTTP check: no keep-alive.
	assert.Equal(t, []string{addr, addr, addr}, d.addrs)
}

// silentPipeDialer returns in-memory connections to a peer that reads the
// request and never answers. Inside a synctest bubble the prober's timeout
// then fires on the fake clock.
func silentPipeDialer() DialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		client, server := net.Pipe()
		go func() {
			defer server.Close()
			_, _ = http.ReadRequest(bufio.NewReader(server))
			_, _ = io.Copy(io.Discard, server) // until the client hangs up
		}()
		return client, nil
	}
}

func TestHTTPProberTimeout(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p, err := NewHTTP(80, "/slow", WithDialer(silentPipeDialer()), WithTimeout(5*time.Second))
		require.NoError(t, err)
		start := time.Now()
		r := p.Probe(t.Context())
		assert.False(t, r.OK)
		assert.True(t, r.TimedOut)
		assert.ErrorIs(t, r.Err, context.DeadlineExceeded)
		assert.Equal(t, 5*time.Second, r.Duration)
		assert.Equal(t, 5*time.Second, time.Since(start))
	})
}

func TestTCPProber(t *testing.T) {
	t.Parallel()
	t.Run("accepting", func(t *testing.T) {
		t.Parallel()
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		t.Cleanup(func() { _ = l.Close() })
		p, err := NewTCP(l.Addr().(*net.TCPAddr).Port, WithTimeout(10*time.Second))
		require.NoError(t, err)
		r := p.Probe(t.Context())
		require.NoError(t, r.Err)
		assert.True(t, r.OK)
		assert.Equal(t, 0, r.ExitCode)
		assert.Equal(t, "connected to "+l.Addr().String(), r.Output)
	})
	t.Run("refused", func(t *testing.T) {
		t.Parallel()
		p, err := NewTCP(closedPort(t))
		require.NoError(t, err)
		r := p.Probe(t.Context())
		assert.False(t, r.OK)
		assert.Equal(t, 1, r.ExitCode)
		assert.False(t, r.TimedOut)
		require.Error(t, r.Err)
		assert.Contains(t, r.Err.Error(), "connect "+p.Addr())
	})
	t.Run("timeout", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			hang := func(ctx context.Context, _, _ string) (net.Conn, error) {
				<-ctx.Done()
				return nil, &net.OpError{Op: "dial", Net: "tcp", Err: ctx.Err()}
			}
			p, err := NewTCP(9, WithDialer(hang), WithTimeout(3*time.Second))
			require.NoError(t, err)
			r := p.Probe(t.Context())
			assert.False(t, r.OK)
			assert.True(t, r.TimedOut)
			assert.Equal(t, 3*time.Second, r.Duration)
		})
	})
}

func TestNewNet(t *testing.T) {
	t.Parallel()
	c, err := health.ParseCheck([]string{"HTTP", "http://localhost:8080/healthz?x=1", "200"})
	require.NoError(t, err)
	p, err := NewNet(c)
	require.NoError(t, err)
	require.IsType(t, &HTTP{}, p)
	assert.Equal(t, "http://localhost:8080/healthz?x=1", p.(*HTTP).URL())

	c, err = health.ParseCheck([]string{"TCP", "5432"})
	require.NoError(t, err)
	p, err = NewNet(c, WithTimeout(time.Second))
	require.NoError(t, err)
	require.IsType(t, &TCP{}, p)
	assert.Equal(t, "127.0.0.1:5432", p.(*TCP).Addr())

	_, err = NewNet(health.Check{Kind: health.CommandExec, Argv: []string{"true"}})
	require.ErrorIs(t, err, ErrInvalid)

	_, err = NewExec(&scriptedExecer{}, "c1", []string{"TCP", "80"})
	require.ErrorIs(t, err, health.ErrInvalidCommand)
	assert.Contains(t, err.Error(), "not run in the container")
}

// FuzzNewNet checks that every network check ParseCheck accepts makes a
// prober.
func FuzzNewNet(f *testing.F) {
	f.Add("HTTP\x00http://localhost:8080/healthz?x=1\x00200-299,302")
	f.Add("HTTP\x00http://[::1]/")
	f.Add("TCP\x00[::1]:5432")
	f.Add("TCP\x008080")
	f.Fuzz(func(t *testing.T, joined string) {
		c, err := health.ParseCheck(strings.Split(joined, "\x00"))
		if err != nil || !c.Kind.IsNetwork() {
			return
		}
		_, err = NewNet(c)
		require.NoError(t, err, "every valid network check makes a prober")
	})
}
