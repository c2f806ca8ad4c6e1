// Package secrets resolves the secrets[].valueFrom references of task
// definitions when containers start. Values are handed to the container's
// environment and nowhere else: never stored, logged or put in events.
//
// Two providers ship with Stevedore:
//
//   - Dir reads each secret from a file in a directory (the way Docker and
//     Kubernetes mount secrets): valueFrom "db-password" reads
//     <dir>/db-password. ARN-like references use their last path segment or
//     colon-separated name, so "arn:aws:secretsmanager:...:secret:db-password"
//     also reads <dir>/db-password.
//   - Memory holds secrets in memory, for tests and for programs that fetch
//     secrets themselves.
//
// Both implement the agent's SecretResolver (Resolve(ctx, Request)) and
// hand any secret they hold to any task that names it. Wrap them in Scoped
// to tie each secret to the tasks allowed to read it, as ECS ties a secret
// to the execution roles granted it, and registry credentials to the
// registries they were issued for:
//
//	dir, _ := secrets.NewDir("/etc/stevedore/secrets")
//	scoped, err := secrets.NewScoped(dir,
//		secrets.Grant{Secrets: []string{"db-password"}, ExecutionRoles: []string{"arn:aws:iam::123456789012:role/web"}},
//		secrets.Grant{Secrets: []string{"registry-creds"}, Registries: []string{"registry.example.com"}, Clusters: []string{"prod"}},
//	)
//
// Errors never contain a secret's value.
package secrets

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/stevedore-io/stevedore/errdefs"
)

// ErrNotFound means no secret answers to a reference. It matches
// errdefs.ErrNotFound.
var ErrNotFound = errdefs.New(errdefs.ErrNotFound, "secrets: not found")

// ErrInvalidRef means a reference is empty or could escape the provider.
// It matches errdefs.ErrInvalid.
var ErrInvalidRef = errdefs.New(errdefs.ErrInvalid, "secrets: invalid reference")

// Name reduces a valueFrom reference to a secret name: the part after the
// last '/' or, for ARNs such as "arn:aws:ssm:region:acct:parameter/x" or
// "arn:aws:secretsmanager:region:acct:secret:x", after the last ':'.
func Name(valueFrom string) (string, error) {
	name := valueFrom
	if strings.HasPrefix(name, "arn:") {
		if i := strings.LastIndexAny(name, "/:"); i >= 0 {
			name = name[i+1:]
		}
	} else if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`) {
		return "", fmt.Errorf("%w: %q", ErrInvalidRef, valueFrom)
	}
	return name, nil
}

// Dir resolves secrets from files in a directory.
type Dir struct {
	dir string
}

// NewDir returns a provider reading secrets from files in dir.
func NewDir(dir string) (*Dir, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("secrets: %s is not a directory", dir)
	}
	return &Dir{dir: dir}, nil
}

// Resolve reads the secret's file; one trailing newline is dropped.
func (d *Dir) Resolve(ctx context.Context, req Request) (string, error) {
	valueFrom := req.ValueFrom
	if err := ctx.Err(); err != nil {
		return "", err
	}
	name, err := Name(valueFrom)
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(filepath.Join(d.dir, name))
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("%w: %q", ErrNotFound, valueFrom)
	}
	if err != nil {
		return "", fmt.Errorf("secrets: read %q: %w", name, err)
	}
	return strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r"), nil
}

// Memory holds secrets in memory. The zero value is empty and ready.
type Memory struct {
	mu     sync.RWMutex
	values map[string]string
}

// NewMemory returns a provider holding the given name -> value pairs.
func NewMemory(values map[string]string) *Memory {
	m := &Memory{}
	for k, v := range values {
		m.Set(k, v)
	}
	return m
}

// Set stores a secret under name (a valueFrom reference or its Name).
func (m *Memory) Set(name, value string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.values == nil {
		m.values = map[string]string{}
	}
	m.values[name] = value
}

// Resolve looks the reference up as given, then by its Name.
func (m *Memory) Resolve(ctx context.Context, req Request) (string, error) {
	valueFrom := req.ValueFrom
	if err := ctx.Err(); err != nil {
		return "", err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if v, ok := m.values[valueFrom]; ok {
		return v, nil
	}
	name, err := Name(valueFrom)
	if err != nil {
		return "", err
	}
	if v, ok := m.values[name]; ok {
		return v, nil
	}
	return "", fmt.Errorf("%w: %q", ErrNotFound, valueFrom)
}
