package containerd

import (
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		opt     Option
		wantErr bool
		check   func(t *testing.T, o options)
	}{
		{"namespace", WithNamespace("prod"), false, func(t *testing.T, o options) { assert.Equal(t, "prod", o.namespace) }},
		{"empty namespace", WithNamespace(""), true, nil},
		{"namespace with slash", WithNamespace("a/b"), true, nil},
		{"snapshotter", WithSnapshotter("native"), false, func(t *testing.T, o options) {
			assert.Equal(t, "native", o.snapshotter)
			assert.False(t, o.snapshotterDefault, "an explicit snapshotter has no fallback")
		}},
		{"empty snapshotter", WithSnapshotter(""), true, nil},
		{"runtime", WithRuntime("io.containerd.runsc.v1"), false, func(t *testing.T, o options) { assert.Equal(t, "io.containerd.runsc.v1", o.runtime) }},
		{"empty runtime", WithRuntime(""), true, nil},
		{"logger", WithLogger(slog.Default()), false, nil},
		{"nil logger", WithLogger(nil), true, nil},
		{"FIFO dir", WithFIFODir("/run/x/../y"), false, func(t *testing.T, o options) { assert.Equal(t, "/run/y", o.fifoDir) }},
		{"relative FIFO dir", WithFIFODir("fifo"), true, nil},
		{"init binary", WithInitBinary("/opt/tini"), false, func(t *testing.T, o options) { assert.Equal(t, "/opt/tini", o.initPath) }},
		{"relative init binary", WithInitBinary("tini"), true, nil},
		{"connect timeout", WithConnectTimeout(time.Second), false, func(t *testing.T, o options) { assert.Equal(t, time.Second, o.connectTimeout) }},
		{"zero connect timeout", WithConnectTimeout(0), true, nil},
		{"plain HTTP loopback", WithPlainHTTP("127.0.0.1:5000", "localhost", "[::1]:5000", "127.1.2.3"), false, func(t *testing.T, o options) {
			assert.Len(t, o.plainHTTP, 4)
		}},
		{"plain HTTP remote host", WithPlainHTTP("registry.example:5000"), true, nil},
		{"plain HTTP private address", WithPlainHTTP("10.0.0.1:5000"), true, nil},
		{"plain HTTP any address", WithPlainHTTP("0.0.0.0:5000"), true, nil},
		{"plain HTTP empty port", WithPlainHTTP("127.0.0.1:"), true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := defaultOptions()
			err := o.apply([]Option{tt.opt})
			if tt.wantErr {
				require.ErrorIs(t, err, ErrInvalidOption)
				return
			}
			require.NoError(t, err)
			if tt.check != nil {
				tt.check(t, o)
			}
		})
	}
}

func TestDefaultOptions(t *testing.T) {
	t.Parallel()
	o := defaultOptions()
	assert.Equal(t, DefaultNamespace, o.namespace)
	assert.Equal(t, DefaultSnapshotter, o.snapshotter)
	assert.True(t, o.snapshotterDefault)
	assert.Equal(t, DefaultRuntime, o.runtime)
	assert.Equal(t, DefaultFIFODir, o.fifoDir)
	assert.Empty(t, o.plainHTTP, "plain HTTP is off unless configured")
}

func TestPlainHTTPMatch(t *testing.T) {
	t.Parallel()
	o := defaultOptions()
	require.NoError(t, o.apply([]Option{WithPlainHTTP("127.0.0.1:5000", "localhost", "[::1]")}))
	tests := []struct {
		host string
		want bool
	}{
		{"127.0.0.1:5000", true},
		{"127.0.0.1:5001", false},
		{"127.0.0.1", false},
		{"localhost:1234", true},
		{"LOCALHOST", true},
		{"[::1]:80", true},
		{"registry.example", false},
		{"10.0.0.1:5000", false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, o.plainHTTPMatch(tt.host), tt.host)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	t.Parallel()
	_, err := New("/nonexistent.sock", WithNamespace(""))
	require.ErrorIs(t, err, ErrInvalidOption)
}
