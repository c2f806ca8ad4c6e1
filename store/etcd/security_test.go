package etcd_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/stevedore-io/stevedore/internal/etcdtest"
	"github.com/stevedore-io/stevedore/store/etcd"
	"github.com/stevedore-io/stevedore/store/storetest"
)

// failFast bounds the connection attempts that must fail.
var failFast = etcd.WithDialTimeout(2 * time.Second)

// pki is a throw-away certificate authority.
type pki struct {
	dir  string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newPKI(t *testing.T, name string) *pki {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	p := &pki{dir: t.TempDir(), cert: cert, key: key, pool: x509.NewCertPool()}
	p.pool.AddCert(cert)
	writePEM(t, filepath.Join(p.dir, "ca.pem"), "CERTIFICATE", der)
	return p
}

// issue signs a certificate for name (a server on 127.0.0.1 or a client)
// and writes it and its key to name.pem and name-key.pem.
func (p *pki) issue(t *testing.T, name string, usage x509.ExtKeyUsage) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.cert, &key.PublicKey, p.key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	writePEM(t, filepath.Join(p.dir, name+".pem"), "CERTIFICATE", der)
	writePEM(t, filepath.Join(p.dir, name+"-key.pem"), "EC PRIVATE KEY", keyDER)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func (p *pki) path(name string) string { return filepath.Join(p.dir, name) }

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600))
}

// TestTLS serves etcd over TLS with client certificates required: a store
// with a certificate from the etcd's CA works; without one, or trusting
// another CA, Open fails.
func TestTLS(t *testing.T) {
	t.Parallel()
	ca := newPKI(t, "stevedore test CA")
	ca.issue(t, "server", x509.ExtKeyUsageServerAuth)
	clientCert := ca.issue(t, "client", x509.ExtKeyUsageClientAuth)
	srv := etcdtest.Start(t, etcdtest.WithClientTLS(ca.path("server.pem"), ca.path("server-key.pem"), ca.path("ca.pem")))
	require.Contains(t, srv.Endpoints[0], "https://")

	s := open(t, srv.Endpoints, etcd.WithTLS(&tls.Config{RootCAs: ca.pool, Certificates: []tls.Certificate{clientCert}}))
	createItems(t, s, item(storetest.KindA, "x", 1))
	assert.Equal(t, 1, getItem(t, s, storetest.KindA, "x").Value)

	t.Run("NoClientCertificate", func(t *testing.T) {
		_, err := etcd.Open(t.Context(), srv.Endpoints, etcd.WithCodec(itemCodec()), failFast,
			etcd.WithTLS(&tls.Config{RootCAs: ca.pool}))
		require.Error(t, err)
	})
	t.Run("OtherCA", func(t *testing.T) {
		other := newPKI(t, "another CA")
		_, err := etcd.Open(t.Context(), srv.Endpoints, etcd.WithCodec(itemCodec()), failFast,
			etcd.WithTLS(&tls.Config{RootCAs: other.pool, Certificates: []tls.Certificate{clientCert}}))
		require.Error(t, err)
	})
}

// TestCredentials enables authentication on etcd and gives the store a
// user that may only touch its own prefix.
func TestCredentials(t *testing.T) {
	t.Parallel()
	srv := etcdtest.Start(t)
	prefix := "/stevedore/prod/"
	admin := client(t, srv.Endpoints)
	ctx := t.Context()
	_, err := admin.UserAdd(ctx, "root", "root-secret")
	require.NoError(t, err)
	_, err = admin.UserGrantRole(ctx, "root", "root")
	require.NoError(t, err)
	_, err = admin.RoleAdd(ctx, "stevedore")
	require.NoError(t, err)
	_, err = admin.RoleGrantPermission(ctx, "stevedore", prefix, clientv3.GetPrefixRangeEnd(prefix), clientv3.PermissionType(clientv3.PermReadWrite))
	require.NoError(t, err)
	_, err = admin.UserAdd(ctx, "stevedore", "s3cret")
	require.NoError(t, err)
	_, err = admin.UserGrantRole(ctx, "stevedore", "stevedore")
	require.NoError(t, err)
	// A user who may read the revision key only: its watches are refused.
	_, err = admin.RoleAdd(ctx, "peek")
	require.NoError(t, err)
	_, err = admin.RoleGrantPermission(ctx, "peek", prefix+"revision", "", clientv3.PermissionType(clientv3.PermRead))
	require.NoError(t, err)
	_, err = admin.UserAdd(ctx, "peek", "peek")
	require.NoError(t, err)
	_, err = admin.UserGrantRole(ctx, "peek", "peek")
	require.NoError(t, err)
	_, err = admin.AuthEnable(ctx)
	require.NoError(t, err)

	s := open(t, srv.Endpoints, etcd.WithPrefix(prefix), etcd.WithCredentials("stevedore", "s3cret"))
	w, err := s.Watch(ctx, 0)
	require.NoError(t, err)
	t.Cleanup(w.Close)
	createItems(t, s, item(storetest.KindA, "x", 1))
	storetest.Increment(t, s, storetest.KindA, "x")
	assert.Equal(t, 2, getItem(t, s, storetest.KindA, "x").Value)
	assert.Equal(t, "x", recv(t, w).ID)

	peek := open(t, srv.Endpoints, etcd.WithPrefix(prefix), etcd.WithCredentials("peek", "peek"))
	refused, err := peek.Watch(ctx, 0)
	require.NoError(t, err)
	for range refused.Events() {
		t.Fatal("an event reached a watch etcd refused")
	}
	require.ErrorIs(t, refused.Err(), rpctypes.ErrPermissionDenied, "the watch ends rather than retrying forever")

	_, err = etcd.Open(ctx, srv.Endpoints, etcd.WithCodec(itemCodec()), etcd.WithPrefix(prefix), failFast,
		etcd.WithCredentials("stevedore", "wrong"))
	require.Error(t, err, "a wrong password is refused")
	_, err = etcd.Open(ctx, srv.Endpoints, etcd.WithCodec(itemCodec()), etcd.WithPrefix("/elsewhere"), failFast,
		etcd.WithCredentials("stevedore", "s3cret"))
	require.Error(t, err, "the user may not read outside its prefix")
}
