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
		{"arn:aws:ssm:eu-west-1:123:parameter/db-password", "db-password"},
		// SSM paths keep every segment: two parameters of one last name
		// are two secrets.
		{"arn:aws:ssm:eu-west-1:123:parameter/prod/db", "prod/db"},
		{"/prod/db", "prod/db"},
		{"prod/db", "prod/db"},
		{"/app/password", "app/password"},
		{"/other/password", "other/password"},
		// Secrets Manager's fields after the name are not the name.
		{"arn:aws:secretsmanager:eu-west-1:123:secret:db:password::", "db"},
		{"arn:aws-cn:secretsmanager:cn-north-1:123:secret:prod/db:password:AWSCURRENT:", "prod/db"},
	}
	for _, tt := range tests {
		got, err := secrets.Name(tt.in)
		require.NoError(t, err, tt.in)
		assert.Equal(t, tt.want, got, tt.in)
	}
	for _, bad := range []struct{ in, why string }{
		{"", "empty"},
		{"x/", "segment"},
		{"..", "segment"},
		{"/app/../etc/passwd", "segment"},
		{"a//b", "segment"},
		{`a\b`, "backslash"},
		{"arn:x:", "want arn:partition"},
		{"arn:aws:s3:::bucket/key", `service "s3"`},
		{"arn:aws:ssm:r:1:document/x", "parameter/<name>"},
		{"arn:aws:secretsmanager:r:1:secret:", "name: empty"},
		{"arn:aws:secretsmanager:r:1:other:x", "secret:<name>"},
		{"arn:aws:secretsmanager:r:1:secret:db:password::v-1", "version-id"},
		{"arn:aws:secretsmanager:r:1:secret:db:password:AWSPREVIOUS:", "version-stage"},
		{"arn:aws:secretsmanager:r:1:secret:db:a:b:c:d", "fields after secret"},
	} {
		_, err := secrets.Name(bad.in)
		require.ErrorIs(t, err, secrets.ErrInvalidRef, bad.in)
		assert.Contains(t, err.Error(), bad.why, bad.in)
	}
}

func TestParseRefSecretsManagerFields(t *testing.T) {
	t.Parallel()
	ref, err := secrets.ParseRef("arn:aws:secretsmanager:eu-west-1:123:secret:db:password:AWSCURRENT:")
	require.NoError(t, err)
	assert.Equal(t, secrets.Ref{Name: "db", JSONKey: "password", VersionStage: secrets.CurrentStage}, ref)
	ref, err = secrets.ParseRef("arn:aws:secretsmanager:eu-west-1:123:secret:db")
	require.NoError(t, err)
	assert.Equal(t, secrets.Ref{Name: "db"}, ref)

	v, err := ref.Select(`{"password":"pw"}`)
	require.NoError(t, err)
	assert.Equal(t, `{"password":"pw"}`, v, "no json-key: the whole value")
	ref.JSONKey = "password"
	v, err = ref.Select(`{"password":"pw","port":5432}`)
	require.NoError(t, err)
	assert.Equal(t, "pw", v)
	ref.JSONKey = "port"
	v, err = ref.Select(`{"password":"pw","port":5432}`)
	require.NoError(t, err)
	assert.Equal(t, "5432", v)
	ref.JSONKey = "user"
	_, err = ref.Select(`{"password":"pw"}`)
	require.ErrorIs(t, err, secrets.ErrNotFound)
	assert.NotContains(t, err.Error(), "pw")
	_, err = ref.Select("not-json-pw")
	require.ErrorIs(t, err, secrets.ErrInvalidRef)
	assert.NotContains(t, err.Error(), "not-json-pw")
}

func TestDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "db-password"), []byte("s3cret\n"), 0o600))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "app"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "app", "password"), []byte("app-pw"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "db"), []byte(`{"username":"u","password":"db-pw"}`), 0o600))
	d, err := secrets.NewDir(dir)
	require.NoError(t, err)
	for ref, want := range map[string]string{
		"arn:aws:secretsmanager:r:1:secret:db-password": "s3cret",
		"db-password":                                     "s3cret",
		"/app/password":                                   "app-pw",
		"arn:aws:ssm:r:1:parameter/app/password":          "app-pw",
		"arn:aws:secretsmanager:r:1:secret:db:password::": "db-pw",
	} {
		v, err := d.Resolve(context.Background(), secrets.Request{ValueFrom: ref})
		require.NoError(t, err, ref)
		assert.Equal(t, want, v, ref)
	}
	for _, missing := range []string{"missing", "/other/password", "password"} {
		_, err = d.Resolve(context.Background(), secrets.Request{ValueFrom: missing})
		require.ErrorIs(t, err, secrets.ErrNotFound, missing)
	}
	_, err = d.Resolve(context.Background(), secrets.Request{ValueFrom: "../etc/passwd"})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "root:")
}

func TestMemory(t *testing.T) {
	t.Parallel()
	m := secrets.NewMemory(map[string]string{"token": "abc", "app/password": "app-pw", "db": `{"password":"db-pw"}`})
	for ref, want := range map[string]string{
		"arn:aws:ssm:r:1:parameter/token":                 "abc",
		"/app/password":                                   "app-pw",
		"arn:aws:secretsmanager:r:1:secret:db:password::": "db-pw",
	} {
		v, err := m.Resolve(context.Background(), secrets.Request{ValueFrom: ref})
		require.NoError(t, err, ref)
		assert.Equal(t, want, v, ref)
	}
	for _, missing := range []string{"other", "/other/password", "password"} {
		_, err := m.Resolve(context.Background(), secrets.Request{ValueFrom: missing})
		require.ErrorIs(t, err, secrets.ErrNotFound, missing)
		assert.NotContains(t, err.Error(), "abc")
	}
}
