package secrets

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/stevedore-io/stevedore/errdefs"
)

// Request is one secret a task's container needs, and who asks for it.
type Request struct {
	// ValueFrom is the reference: a secrets[].valueFrom or a
	// repositoryCredentials.credentialsParameter.
	ValueFrom string
	// Cluster and Family are the task's cluster and task definition
	// family; ExecutionRoleARN is the definition's executionRoleArn.
	Cluster          string
	Family           string
	ExecutionRoleARN string
	// Registry is set when the secret is a container's registry
	// credentials: the registry host of the image they pull.
	Registry string
}

// Provider resolves secrets: the agent's SecretResolver.
type Provider interface {
	Resolve(ctx context.Context, req Request) (string, error)
}

// ErrDenied means no grant of a Scoped provider allows the request.
var ErrDenied = errors.New("secrets: access denied")

// ErrInvalidGrant is matched by NewScoped's error for a malformed grant.
// It matches errdefs.ErrInvalid.
var ErrInvalidGrant = errdefs.New(errdefs.ErrInvalid, "secrets: invalid grant")

// Grant allows secrets to the tasks it names.
//
// A request is allowed when a grant lists its secret and every list of the
// grant that is set holds the request's value: its execution role, its
// family, its cluster. A grant must set at least one of them (no grant
// gives a secret to every task by accident); "*" in a list matches any
// value.
//
// A grant with Registries is for registry credentials: it allows a
// secret only as a container's repositoryCredentials, and only for pulls
// from those registries. A grant without Registries never allows a secret
// as registry credentials, so credentials go only to the registry they
// were issued for, and nothing meant for a registry lands in a
// container's environment through the same grant.
type Grant struct {
	// Secrets are secret names (as Name gives them) or path.Match patterns
	// over them ("db-*"). An SSM parameter's name is its full path, so
	// "app/*" grants "/app/password" and "password" grants neither it nor
	// "/other/password"; a pattern's '*' never crosses a '/'.
	Secrets []string
	// ExecutionRoles, Families and Clusters select the tasks.
	ExecutionRoles []string
	Families       []string
	Clusters       []string
	// Registries are registry hosts ("registry.example.com:5000").
	Registries []string
}

func (g Grant) validate(i int) error {
	if len(g.Secrets) == 0 {
		return fmt.Errorf("%w: grants[%d].secrets: name at least one secret", ErrInvalidGrant, i)
	}
	for j, pat := range g.Secrets {
		if _, err := path.Match(pat, ""); err != nil || pat == "" {
			return fmt.Errorf("%w: grants[%d].secrets[%d] %q: not a name or pattern", ErrInvalidGrant, i, j, pat)
		}
	}
	if len(g.ExecutionRoles)+len(g.Families)+len(g.Clusters) == 0 {
		return fmt.Errorf("%w: grants[%d]: set executionRoles, families or clusters (\"*\" for any)", ErrInvalidGrant, i)
	}
	for j, r := range g.Registries {
		if r == "" || strings.ContainsAny(r, "/ ") {
			return fmt.Errorf("%w: grants[%d].registries[%d] %q: want a registry host", ErrInvalidGrant, i, j, r)
		}
	}
	return nil
}

func (g Grant) allows(name string, req Request) bool {
	if !slices.ContainsFunc(g.Secrets, func(pat string) bool { ok, _ := path.Match(pat, name); return ok }) {
		return false
	}
	if (req.Registry != "") != (len(g.Registries) > 0) {
		return false
	}
	if req.Registry != "" && !slices.Contains(g.Registries, req.Registry) {
		return false
	}
	return matches(g.ExecutionRoles, req.ExecutionRoleARN) && matches(g.Families, req.Family) && matches(g.Clusters, req.Cluster)
}

// matches reports whether value is in list; an empty list matches all.
func matches(list []string, value string) bool {
	return len(list) == 0 || slices.Contains(list, "*") || (value != "" && slices.Contains(list, value))
}

// Scoped resolves through another provider the requests its grants allow,
// and refuses the others with ErrDenied before the provider is asked.
type Scoped struct {
	p      Provider
	grants []Grant
}

// NewScoped returns p limited to grants.
func NewScoped(p Provider, grants ...Grant) (*Scoped, error) {
	if p == nil {
		return nil, fmt.Errorf("%w: nil provider", ErrInvalidGrant)
	}
	for i, g := range grants {
		if err := g.validate(i); err != nil {
			return nil, err
		}
	}
	return &Scoped{p: p, grants: slices.Clone(grants)}, nil
}

// Resolve implements Provider.
func (s *Scoped) Resolve(ctx context.Context, req Request) (string, error) {
	name, err := Name(req.ValueFrom)
	if err != nil {
		return "", err
	}
	for _, g := range s.grants {
		if g.allows(name, req) {
			return s.p.Resolve(ctx, req)
		}
	}
	who := fmt.Sprintf("family %q (cluster %q, execution role %q)", req.Family, req.Cluster, req.ExecutionRoleARN)
	if req.Registry != "" {
		return "", fmt.Errorf("%w: secret %q is not granted to %s as credentials for registry %s", ErrDenied, name, who, req.Registry)
	}
	return "", fmt.Errorf("%w: secret %q is not granted to %s", ErrDenied, name, who)
}
