// Package etcdtest starts real etcd servers for tests: one in-process
// member on etcd's embed package (Start), or a cluster of separate member
// processes (StartCluster, see member.go). Everything listens on loopback
// ports the kernel picks, keeps its data in a t.TempDir directory and is
// stopped by t.Cleanup.
package etcdtest

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// startTimeout bounds how long a member may take to become ready. It only
// turns a hang into a failure.
const startTimeout = 60 * time.Second

// Server is one in-process etcd member.
type Server struct {
	// Endpoints are the client URLs to dial.
	Endpoints []string
	// Dir is the member's data directory.
	Dir string

	etcd *embed.Etcd
}

// Option changes the embed configuration before the member starts.
type Option func(*embed.Config)

// WithClientTLS serves clients over TLS with the given server certificate
// and key, and requires client certificates signed by the CA in caFile.
func WithClientTLS(certFile, keyFile, caFile string) Option {
	return func(c *embed.Config) {
		c.ClientTLSInfo.CertFile = certFile
		c.ClientTLSInfo.KeyFile = keyFile
		c.ClientTLSInfo.TrustedCAFile = caFile
		c.ClientTLSInfo.ClientCertAuth = true
		for _, urls := range [][]url.URL{c.ListenClientUrls, c.AdvertiseClientUrls} {
			for i := range urls {
				urls[i].Scheme = "https"
			}
		}
	}
}

// WithMaxTxnOps sets how many operations etcd accepts in one transaction
// (etcd's default is 128).
func WithMaxTxnOps(n uint) Option {
	return func(c *embed.Config) { c.MaxTxnOps = n }
}

// Start runs a single-member etcd in this process, with its data in a
// t.TempDir directory, and stops it when the test ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s, err := New(t.TempDir(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// New runs a single-member etcd in this process with its data in dir, for
// a server shared by a whole test binary (started in TestMain). Close stops
// it.
func New(dir string, opts ...Option) (*Server, error) {
	cfg := embed.NewConfig()
	cfg.Name = "stevedore-test"
	cfg.Dir = dir
	// Port 0: the kernel picks free loopback ports. A single member never
	// dials its advertised peer URL, so the 0 there does no harm.
	loopback := url.URL{Scheme: "http", Host: "127.0.0.1:0"}
	cfg.ListenClientUrls = []url.URL{loopback}
	cfg.AdvertiseClientUrls = []url.URL{loopback}
	cfg.ListenPeerUrls = []url.URL{loopback}
	cfg.AdvertisePeerUrls = []url.URL{loopback}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.UnsafeNoFsync = true // tests lose nothing they need on a crash
	cfg.EnableGRPCGateway = false
	cfg.BcryptCost = 4 // the minimum: tests add users, and they need no strength
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	for _, opt := range opts {
		opt(cfg)
	}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("start etcd: %w", err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("etcd failed while starting: %w", err)
	case <-time.After(startTimeout):
		e.Close()
		return nil, fmt.Errorf("etcd not ready after %v", startTimeout)
	}
	s := &Server{Dir: dir, etcd: e}
	for _, l := range e.Clients {
		s.Endpoints = append(s.Endpoints, fmt.Sprintf("%s://%s", cfg.ListenClientUrls[0].Scheme, l.Addr()))
	}
	return s, nil
}

// Close stops the member.
func (s *Server) Close() { s.etcd.Close() }
