package secrets_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/secrets"
)

func TestScopedGrants(t *testing.T) {
	t.Parallel()
	mem := secrets.NewMemory(map[string]string{"db-password": "pw", "db-user": "u", "api-key": "k", "creds": "u:p"})
	s, err := secrets.NewScoped(mem,
		secrets.Grant{Secrets: []string{"db-*"}, ExecutionRoles: []string{"arn:aws:iam::1:role/web"}},
		secrets.Grant{Secrets: []string{"api-key"}, Families: []string{"web", "worker"}, Clusters: []string{"prod"}},
		secrets.Grant{Secrets: []string{"creds"}, Registries: []string{"registry.example.com"}, Clusters: []string{"*"}},
	)
	require.NoError(t, err)
	web := secrets.Request{Cluster: "prod", Family: "web", ExecutionRoleARN: "arn:aws:iam::1:role/web"}
	tests := []struct {
		name    string
		req     secrets.Request
		ref     string
		want    string
		allowed bool
	}{
		{"pattern and role", web, "arn:aws:secretsmanager:r:1:secret:db-password", "pw", true},
		{"pattern, other secret", web, "db-user", "u", true},
		{"no role", secrets.Request{Cluster: "prod", Family: "web"}, "db-password", "", false},
		{"other role", secrets.Request{Cluster: "prod", Family: "web", ExecutionRoleARN: "arn:aws:iam::1:role/x"}, "db-password", "", false},
		{"family and cluster", secrets.Request{Cluster: "prod", Family: "worker"}, "api-key", "k", true},
		{"family in the wrong cluster", secrets.Request{Cluster: "dev", Family: "worker"}, "api-key", "", false},
		{"credentials for their registry", secrets.Request{Cluster: "dev", Family: "x", Registry: "registry.example.com"}, "creds", "u:p", true},
		{"credentials for another registry", secrets.Request{Cluster: "dev", Family: "x", Registry: "evil.example.net"}, "creds", "", false},
		{"credentials as an environment secret", secrets.Request{Cluster: "dev", Family: "x"}, "creds", "", false},
		{"an environment secret as credentials", secrets.Request{Cluster: "prod", Family: "web", ExecutionRoleARN: "arn:aws:iam::1:role/web", Registry: "registry.example.com"}, "db-password", "", false},
		{"ungranted", web, "other", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := tt.req
			req.ValueFrom = tt.ref
			got, err := s.Resolve(context.Background(), req)
			if !tt.allowed {
				assert.ErrorIs(t, err, secrets.ErrDenied)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

// TestScopedSSMPaths: a grant names an SSM parameter by its full path, so
// parameters of one last name under two paths are two secrets.
func TestScopedSSMPaths(t *testing.T) {
	t.Parallel()
	mem := secrets.NewMemory(map[string]string{"app/password": "app-pw", "other/password": "other-pw", "password": "pw"})
	s, err := secrets.NewScoped(mem,
		secrets.Grant{Secrets: []string{"password"}, Families: []string{"plain"}},
		secrets.Grant{Secrets: []string{"app/*"}, Families: []string{"app"}},
	)
	require.NoError(t, err)
	for _, tt := range []struct {
		family, ref, want string
	}{
		{"plain", "password", "pw"},
		{"plain", "arn:aws:ssm:r:1:parameter/password", "pw"},
		{"app", "/app/password", "app-pw"},
		{"app", "arn:aws:ssm:r:1:parameter/app/password", "app-pw"},
	} {
		got, err := s.Resolve(context.Background(), secrets.Request{Family: tt.family, ValueFrom: tt.ref})
		require.NoError(t, err, tt.ref)
		assert.Equal(t, tt.want, got, tt.ref)
	}
	for _, tt := range []struct{ family, ref string }{
		{"plain", "/app/password"},
		{"plain", "/other/password"},
		{"app", "/other/password"},
		{"app", "password"},
	} {
		_, err := s.Resolve(context.Background(), secrets.Request{Family: tt.family, ValueFrom: tt.ref})
		require.ErrorIs(t, err, secrets.ErrDenied, "%s for family %s", tt.ref, tt.family)
	}
}

func TestScopedRefusesGrantsThatGiveToEveryoneByAccident(t *testing.T) {
	t.Parallel()
	mem := secrets.NewMemory(nil)
	for _, g := range []secrets.Grant{
		{Secrets: []string{"x"}},
		{Families: []string{"web"}},
		{Secrets: []string{"["}, Families: []string{"web"}},
		{Secrets: []string{"x"}, Families: []string{"web"}, Registries: []string{"host/path"}},
	} {
		_, err := secrets.NewScoped(mem, g)
		assert.ErrorIs(t, err, secrets.ErrInvalidGrant, "%+v", g)
	}
	_, err := secrets.NewScoped(nil)
	assert.ErrorIs(t, err, secrets.ErrInvalidGrant)
}
