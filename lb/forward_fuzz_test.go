package lb

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// captureTransport stands for a target: it serializes the request as the
// connection pool does (Request.Write) and keeps the bytes.
type captureTransport struct{ raw []byte }

func (c *captureTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	var buf bytes.Buffer
	if err := r.Write(&buf); err != nil {
		return nil, err
	}
	c.raw = buf.Bytes()
	return &http.Response{StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: http.Header{}, Body: http.NoBody, Request: r}, nil
}

// serverAccepts reports whether net/http's server would hand r to a
// handler at all, as far as the fuzz target's checks depend on it: HTTP/1
// (or the PRI preface) and a Host of the bytes RFC 3986 allows.
func serverAccepts(r *http.Request) bool {
	if r.ProtoMajor != 1 && r.Method != "PRI" {
		return false
	}
	for _, c := range []byte(r.Host) {
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!$%&'()*+,-.:;=[]_~", c) >= 0
		if !ok {
			return false
		}
	}
	return true
}

// FuzzForwardRequest parses raw bytes as a client's request, forwards it
// through a Handler, and parses what the target would receive: exactly
// one request (nothing smuggled after it), with the client's method, path,
// Host and body, and no h2c upgrade.
func FuzzForwardRequest(f *testing.F) {
	for _, s := range routeSeeds {
		f.Add([]byte(s))
	}
	f.Add([]byte("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\nHost: x\r\n\r\n"))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: x\r\nConnection: close, X-Secret\r\nX-Secret: 1\r\n\r\n"))
	g, err := NewTargetGroup("web", HTTP)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { g.Close() })
	target := &captureTransport{}
	g.proxy.Transport = target
	const maxBody = 1 << 10
	h, err := NewHandler(nil, g, WithLimits(Limits{MaxBodyBytes: maxBody}))
	if err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(data)))
		if err != nil || !serverAccepts(in) {
			return
		}
		// What the client sent, read from a second parse.
		in2, _ := http.ReadRequest(bufio.NewReader(bytes.NewReader(data)))
		body, bodyErr := io.ReadAll(in2.Body)
		target.raw = nil
		w := httptest.NewRecorder()
		h.ServeHTTP(w, in)
		if target.raw == nil {
			if w.Code == http.StatusOK {
				t.Fatalf("200 without a request to the target")
			}
			return
		}
		if w.Code != http.StatusOK {
			t.Fatalf("the target answered 200, the client got %d", w.Code)
		}
		if bodyErr != nil || int64(len(body)) > maxBody {
			t.Fatalf("a body the client did not complete (%v) or too large (%d) reached the target", bodyErr, len(body))
		}
		br := bufio.NewReader(bytes.NewReader(target.raw))
		out, err := http.ReadRequest(br)
		if err != nil {
			t.Fatalf("the target cannot parse %q: %v", target.raw, err)
		}
		outBody, err := io.ReadAll(out.Body)
		if err != nil {
			t.Fatalf("the target cannot read the body of %q: %v", target.raw, err)
		}
		if br.Buffered() > 0 {
			rest, _ := io.ReadAll(br)
			t.Fatalf("bytes after the request, which the target would take for another: %q", rest)
		}
		switch {
		case out.Method != in2.Method:
			t.Fatalf("method %q became %q", in2.Method, out.Method)
		case out.URL.EscapedPath() != in2.URL.EscapedPath() && !(in2.URL.Path == "" && out.URL.Path == "/"):
			t.Fatalf("path %q became %q", in2.URL.EscapedPath(), out.URL.EscapedPath())
		// Request.Write blanks a Host it finds invalid, which the server
		// would have refused; without one (HTTP/1.0) the pool sends the
		// target's address. Never another name.
		case out.Host != in2.Host && in2.Host != "" && out.Host != "":
			t.Fatalf("Host %q became %q", in2.Host, out.Host)
		case !bytes.Equal(outBody, body):
			t.Fatalf("body %q became %q", body, outBody)
		case out.Header.Get("Http2-Settings") != "":
			t.Fatalf("HTTP2-Settings passed on")
		}
		for _, v := range out.Header.Values("Upgrade") {
			for tok := range strings.SplitSeq(v, ",") {
				if isH2(strings.TrimSpace(tok)) {
					t.Fatalf("Upgrade %q passed on", v)
				}
			}
		}
	})
}
