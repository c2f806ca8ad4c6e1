// Package secrets resolves the secrets[].valueFrom references of task
// definitions when containers start. Values are handed to the container's
// environment and nowhere else: never stored, logged or put in events.
//
// Two providers ship with Stevedore:
//
//   - Dir reads each secret from a file in a directory (the way Docker and
//     Kubernetes mount secrets): valueFrom "db-password" reads
//     <dir>/db-password. A reference comes down to the secret's name (see
//     Name): "arn:aws:secretsmanager:...:secret:db-password" also reads
//     <dir>/db-password, and the SSM parameter "/app/password" (or
//     "arn:aws:ssm:...:parameter/app/password") reads <dir>/app/password.
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
	"encoding/json"
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

// CurrentStage is the version stage of a Secrets Manager secret's current
// value, the only version Stevedore's providers hold.
const CurrentStage = "AWSCURRENT"

// Ref is a valueFrom reference taken apart, as ECS reads it.
type Ref struct {
	// Name is the secret's name: an SSM parameter's full path without
	// its leading '/' ("app/password" for "/app/password"), or a Secrets
	// Manager secret's name ("prod/db" for
	// "arn:aws:secretsmanager:region:acct:secret:prod/db"). It is
	// unambiguous: two references name the same secret only when they
	// name the same parameter or secret. Its segments are never empty,
	// "." or "..".
	Name string
	// JSONKey, VersionStage and VersionID are the optional fields of a
	// Secrets Manager reference
	// ("arn:aws:secretsmanager:region:acct:secret:name:json-key:version-stage:version-id"):
	// the key of the secret's JSON object whose value is wanted (the
	// whole value when empty), and the version (the current one when
	// both are empty).
	JSONKey      string
	VersionStage string
	VersionID    string
}

// ParseRef takes a valueFrom reference apart:
//
//   - an SSM parameter: its name ("db-password"), its path
//     ("/app/password"), or its ARN ("arn:aws:ssm:region:acct:parameter/app/password");
//   - a Secrets Manager secret: its ARN, with ECS's optional json-key,
//     version-stage and version-id after it.
//
// Errors wrap ErrInvalidRef and say which part breaks which rule.
func ParseRef(valueFrom string) (Ref, error) {
	bad := func(format string, args ...any) (Ref, error) {
		return Ref{}, fmt.Errorf("%w: %q: %s", ErrInvalidRef, valueFrom, fmt.Sprintf(format, args...))
	}
	if valueFrom == "" {
		return bad("empty")
	}
	var ref Ref
	if !strings.HasPrefix(valueFrom, "arn:") {
		ref.Name = strings.TrimPrefix(valueFrom, "/")
	} else {
		// arn:partition:service:region:account:resource
		parts := strings.SplitN(valueFrom, ":", 6)
		if len(parts) < 6 {
			return bad("want arn:partition:service:region:account:resource")
		}
		switch service, resource := parts[2], parts[5]; service {
		case "ssm":
			name, ok := strings.CutPrefix(resource, "parameter/")
			if !ok {
				return bad("an ssm ARN's resource must be parameter/<name>")
			}
			ref.Name = strings.TrimPrefix(name, "/")
		case "secretsmanager":
			fields := strings.Split(resource, ":")
			if fields[0] != "secret" || len(fields) < 2 {
				return bad("a secretsmanager ARN's resource must be secret:<name>")
			}
			if len(fields) > 5 {
				return bad("want secret:name:json-key:version-stage:version-id, got %d fields after secret", len(fields)-1)
			}
			fields = append(fields, "", "", "")
			ref.Name, ref.JSONKey, ref.VersionStage, ref.VersionID = fields[1], fields[2], fields[3], fields[4]
		default:
			return bad("service %q: want ssm or secretsmanager", service)
		}
	}
	if ref.Name == "" {
		return bad("name: empty")
	}
	if strings.ContainsAny(ref.Name, "\\\x00") {
		return bad("name: must not contain a backslash or NUL")
	}
	for seg := range strings.SplitSeq(ref.Name, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return bad("name: a path segment must not be empty, \".\" or \"..\"")
		}
	}
	if ref.VersionID != "" || (ref.VersionStage != "" && ref.VersionStage != CurrentStage) {
		return bad("version-stage and version-id: only the current version (%s) is held", CurrentStage)
	}
	return ref, nil
}

// Name reduces a valueFrom reference to the secret's name (Ref.Name): a
// name stays as it is ("db-password"), an SSM parameter keeps its full
// path ("/app/password" and "arn:aws:ssm:region:acct:parameter/app/password"
// are "app/password"), and a Secrets Manager ARN gives its secret's name
// without the fields after it. Errors wrap ErrInvalidRef.
func Name(valueFrom string) (string, error) {
	ref, err := ParseRef(valueFrom)
	return ref.Name, err
}

// Select returns what ref asks of a secret's value: the value itself, or
// the string at ref.JSONKey when the value is a JSON object. Its errors
// never contain the value.
func (r Ref) Select(value string) (string, error) {
	if r.JSONKey == "" {
		return value, nil
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(value), &obj); err != nil {
		return "", fmt.Errorf("%w: secret %q: json-key %q: the secret's value is not a JSON object", ErrInvalidRef, r.Name, r.JSONKey)
	}
	v, ok := obj[r.JSONKey]
	if !ok {
		return "", fmt.Errorf("%w: secret %q has no json-key %q", ErrNotFound, r.Name, r.JSONKey)
	}
	if str, ok := v.(string); ok {
		return str, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("secrets: secret %q: json-key %q: %w", r.Name, r.JSONKey, err)
	}
	return string(b), nil
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

// Resolve reads the secret's file, <dir>/<name> (an SSM path's segments
// are directories); one trailing newline is dropped. A Secrets Manager
// json-key selects a key of the file's JSON object.
func (d *Dir) Resolve(ctx context.Context, req Request) (string, error) {
	valueFrom := req.ValueFrom
	if err := ctx.Err(); err != nil {
		return "", err
	}
	ref, err := ParseRef(valueFrom)
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(filepath.Join(d.dir, filepath.FromSlash(ref.Name)))
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("%w: %q", ErrNotFound, valueFrom)
	}
	if err != nil {
		return "", fmt.Errorf("secrets: read %q: %w", ref.Name, err)
	}
	return ref.Select(strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r"))
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

// Resolve looks the reference up as given, then by its Name (with a
// Secrets Manager json-key selecting a key of the value's JSON object).
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
	ref, err := ParseRef(valueFrom)
	if err != nil {
		return "", err
	}
	if v, ok := m.values[ref.Name]; ok {
		return ref.Select(v)
	}
	return "", fmt.Errorf("%w: %q", ErrNotFound, valueFrom)
}
