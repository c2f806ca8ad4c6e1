package containerd

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"time"

	"github.com/stevedore-io/stevedore/errdefs"
	"google.golang.org/grpc"
)

// Defaults used by New.
const (
	// DefaultNamespace is the containerd namespace Stevedore's containers,
	// images and snapshots live in.
	DefaultNamespace = "stevedore"
	// DefaultSnapshotter is tried first; when containerd cannot use it, New
	// falls back to "native".
	DefaultSnapshotter = "overlayfs"
	// DefaultRuntime is the containerd runtime (shim) that runs containers.
	DefaultRuntime = "io.containerd.runc.v2"
	// DefaultFIFODir is where the FIFOs carrying containers' output are
	// created, one directory per process.
	DefaultFIFODir = "/run/stevedore/fifo"
	// DefaultConnectTimeout bounds New's wait for containerd to answer.
	DefaultConnectTimeout = 10 * time.Second
)

// DefaultInitPaths are searched, in order, for the init binary run as PID 1
// for containers with ContainerSpec.Init (a static tini, as Docker uses).
var DefaultInitPaths = []string{
	"/usr/bin/tini-static",
	"/usr/local/bin/tini-static",
	"/sbin/docker-init",
	"/usr/bin/docker-init",
	"/usr/libexec/docker/docker-init",
}

// ErrInvalidOption is returned by New when an option is invalid.
// It matches errdefs.ErrInvalid.
var ErrInvalidOption = errdefs.New(errdefs.ErrInvalid, "containerd: invalid option")

// Option configures a Runtime. Options are applied in order by New; the
// first one that fails makes New fail.
type Option func(*options) error

type options struct {
	namespace          string
	snapshotter        string
	snapshotterDefault bool
	runtime            string
	plainHTTP          []string
	logger             *slog.Logger
	fifoDir            string
	initPath           string
	connectTimeout     time.Duration
	// dialOpts are added to the client's gRPC dial options; tests use it
	// to interpose on the daemon's replies.
	dialOpts []grpc.DialOption
}

func defaultOptions() options {
	return options{
		namespace:          DefaultNamespace,
		snapshotter:        DefaultSnapshotter,
		snapshotterDefault: true,
		runtime:            DefaultRuntime,
		logger:             slog.New(slog.DiscardHandler),
		fifoDir:            DefaultFIFODir,
		connectTimeout:     DefaultConnectTimeout,
	}
}

func (o *options) apply(opts []Option) error {
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(o); err != nil {
			return err
		}
	}
	return nil
}

// WithNamespace sets the containerd namespace (default "stevedore").
func WithNamespace(ns string) Option {
	return func(o *options) error {
		if ns == "" || strings.ContainsAny(ns, "/ \t\n") {
			return fmt.Errorf("%w: namespace %q", ErrInvalidOption, ns)
		}
		o.namespace = ns
		return nil
	}
}

// WithSnapshotter sets the snapshotter that unpacks images and holds
// containers' writable layers (default "overlayfs"). New fails when
// containerd cannot use a snapshotter set with this option; there is no
// fallback.
func WithSnapshotter(name string) Option {
	return func(o *options) error {
		if name == "" {
			return fmt.Errorf("%w: empty snapshotter", ErrInvalidOption)
		}
		o.snapshotter, o.snapshotterDefault = name, false
		return nil
	}
}

// WithRuntime sets the containerd runtime (default "io.containerd.runc.v2").
func WithRuntime(name string) Option {
	return func(o *options) error {
		if name == "" {
			return fmt.Errorf("%w: empty runtime", ErrInvalidOption)
		}
		o.runtime = name
		return nil
	}
}

// WithPlainHTTP lets EnsureImage pull over plain HTTP from these registries,
// given as "host:port" (that port only) or "host" (any port). Only loopback
// hosts are accepted ("localhost", 127.0.0.0/8, ::1): credentials and
// images must not travel unencrypted over a network.
func WithPlainHTTP(hosts ...string) Option {
	return func(o *options) error {
		for _, h := range hosts {
			if err := checkLoopbackHost(h); err != nil {
				return fmt.Errorf("%w: plain HTTP registry %q: %w", ErrInvalidOption, h, err)
			}
			o.plainHTTP = append(o.plainHTTP, h)
		}
		return nil
	}
}

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return fmt.Errorf("%w: nil logger", ErrInvalidOption)
		}
		o.logger = l
		return nil
	}
}

// WithFIFODir sets the directory holding the FIFOs that carry containers'
// output to this process (default "/run/stevedore/fifo").
func WithFIFODir(dir string) Option {
	return func(o *options) error {
		if !filepath.IsAbs(dir) {
			return fmt.Errorf("%w: FIFO directory %q is not absolute", ErrInvalidOption, dir)
		}
		o.fifoDir = filepath.Clean(dir)
		return nil
	}
}

// WithInitBinary sets the init binary bound into containers that ask for
// one (ContainerSpec.Init). It must be statically linked, like tini-static.
// By default the first of DefaultInitPaths that exists is used.
func WithInitBinary(path string) Option {
	return func(o *options) error {
		if !filepath.IsAbs(path) {
			return fmt.Errorf("%w: init binary %q is not absolute", ErrInvalidOption, path)
		}
		o.initPath = path
		return nil
	}
}

// WithConnectTimeout bounds how long New waits for containerd to answer
// (default 10s).
func WithConnectTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("%w: connect timeout %v", ErrInvalidOption, d)
		}
		o.connectTimeout = d
		return nil
	}
}

// checkLoopbackHost accepts "host" or "host:port" where host is localhost or
// a loopback IP address.
func checkLoopbackHost(hostport string) error {
	host := hostport
	if h, port, err := net.SplitHostPort(hostport); err == nil {
		if port == "" {
			return errors.New("empty port")
		}
		host = h
	} else if strings.HasPrefix(hostport, "[") && strings.HasSuffix(hostport, "]") {
		host = hostport[1 : len(hostport)-1]
	}
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return errors.New("not localhost or an IP address")
	}
	if !ip.IsLoopback() {
		return errors.New("not a loopback address")
	}
	return nil
}

// plainHTTPMatch reports whether host ("host" or "host:port", as containerd's
// resolver passes it) was allowed by WithPlainHTTP.
func (o *options) plainHTTPMatch(host string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	for _, allowed := range o.plainHTTP {
		if strings.EqualFold(allowed, host) {
			return true
		}
		if _, _, err := net.SplitHostPort(allowed); err != nil && strings.EqualFold(strings.Trim(allowed, "[]"), h) {
			return true
		}
	}
	return false
}
