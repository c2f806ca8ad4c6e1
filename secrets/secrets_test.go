package secrets_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/secrets"
)

func TestName(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"db-password", "db-password"},
		{"arn:aws:secretsmanager:eu-west-1:123:secret:db-password", "db-password"},
		{"arn:aws:ssm:eu-west-1:123:parameter/prod/db", "db"},
		{"prod/db", "db"},
	}
	for _, tt := range tests {
		got, err := secrets.Name(tt.in)
		require.NoError(t, err, tt.in)
		assert.Equal(t, tt.want, got)
	}
	for _, bad := range []string{"", "x/", "..", "arn:x:"} {
		_, err := secrets.Name(bad)
		assert.ErrorIs(t, err, secrets.ErrInvalidRef, bad)
	}
}

func TestDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "db-password"), []byte("s3cret\n"), 0o600))
	d, err := secrets.NewDir(dir)
	require.NoError(t, err)
	v, err := d.Resolve(context.Background(), secrets.Request{ValueFrom: "arn:aws:secretsmanager:r:1:secret:db-password"})
	require.NoError(t, err)
	assert.Equal(t, "s3cret", v)
	_, err = d.Resolve(context.Background(), secrets.Request{ValueFrom: "missing"})
	require.ErrorIs(t, err, secrets.ErrNotFound)
	_, err = d.Resolve(context.Background(), secrets.Request{ValueFrom: "../etc/passwd"})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "root:")
}

func TestMemory(t *testing.T) {
	t.Parallel()
	m := secrets.NewMemory(map[string]string{"token": "abc"})
	v, err := m.Resolve(context.Background(), secrets.Request{ValueFrom: "arn:aws:ssm:r:1:parameter/token"})
	require.NoError(t, err)
	assert.Equal(t, "abc", v)
	_, err = m.Resolve(context.Background(), secrets.Request{ValueFrom: "other"})
	require.ErrorIs(t, err, secrets.ErrNotFound)
	assert.NotContains(t, err.Error(), "abc")
}
