package errdefs_test

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stevedore-io/stevedore/errdefs"
)

func TestKindsAreDistinctAndMatchContainerd(t *testing.T) {
	t.Parallel()
	tests := []struct {
		kind       error
		text       string
		containerd func(error) bool
	}{
		{errdefs.ErrNotFound, "not found", cerrdefs.IsNotFound},
		{errdefs.ErrAlreadyExists, "already exists", cerrdefs.IsAlreadyExists},
		{errdefs.ErrInvalid, "invalid", cerrdefs.IsInvalidArgument},
		{errdefs.ErrConflict, "conflict", cerrdefs.IsConflict},
		{errdefs.ErrInUse, "in use", cerrdefs.IsFailedPrecondition},
		{errdefs.ErrClosed, "closed", func(err error) bool { return !cerrdefs.IsUnavailable(err) }},
	}
	for i, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			t.Parallel()
			err := fmt.Errorf("object x: %w", tt.kind)
			assert.Equal(t, tt.text, tt.kind.Error())
			assert.True(t, tt.containerd(err), "containerd's kind (none for closed, which is not unavailable)")
			assert.Equal(t, tt.kind, errdefs.Kind(err))
			for j, other := range tests {
				assert.Equal(t, i == j, errors.Is(err, other.kind), "matches %v", other.kind)
			}
		})
	}
	assert.Nil(t, errdefs.Kind(errors.New("other")))
	assert.False(t, errors.Is(cerrdefs.ErrNotFound, errdefs.ErrNotFound), "containerd's errors are translated at the boundary")
	assert.True(t, errors.Is(fmt.Errorf("x: %w", errdefs.ErrNotFound), cerrdefs.ErrNotFound))
	assert.False(t, errors.Is(errdefs.ErrNotFound, cerrdefs.ErrInvalidArgument))
}

func TestNewSentinelMatchesItselfAndItsKind(t *testing.T) {
	t.Parallel()
	errStoreNotFound := errdefs.New(errdefs.ErrNotFound, "store: not found")
	other := errdefs.New(errdefs.ErrNotFound, "store: not found")
	err := fmt.Errorf("%w: tasks/t1", errStoreNotFound)
	assert.Equal(t, "store: not found: tasks/t1", err.Error())
	assert.ErrorIs(t, err, errStoreNotFound)
	assert.ErrorIs(t, err, errdefs.ErrNotFound)
	assert.ErrorIs(t, err, cerrdefs.ErrNotFound)
	assert.NotErrorIs(t, err, other, "each sentinel is its own")
	assert.NotErrorIs(t, err, errdefs.ErrInvalid)
}

func TestFieldError(t *testing.T) {
	t.Parallel()
	syntax := errors.New("at position 3: expected an operator")
	err := fmt.Errorf("run task: %w", errors.Join(
		errdefs.Invalid("containerDefinitions[0].memory", "must be at least %d MiB, got %d", 6, 4),
		&errdefs.FieldError{Path: "placementConstraints[1].expression", Reason: "not a cluster query", Err: syntax},
		errors.New("not a field"),
	))
	require.ErrorIs(t, err, errdefs.ErrInvalid)
	require.ErrorIs(t, err, syntax)
	fes := errdefs.FieldErrors(err)
	require.Len(t, fes, 2)
	assert.Equal(t, "containerDefinitions[0].memory", fes[0].Path)
	assert.Equal(t, "must be at least 6 MiB, got 4", fes[0].Reason)
	assert.Equal(t, "containerDefinitions[0].memory: must be at least 6 MiB, got 4", fes[0].Error())
	assert.Equal(t, "placementConstraints[1].expression: not a cluster query: at position 3: expected an operator", fes[1].Error())
	assert.Equal(t, "empty", errdefs.Invalid("", "empty").Error())
	assert.Empty(t, errdefs.FieldErrors(nil))
	assert.Empty(t, errdefs.FieldErrors(errors.New("x")))
}

func TestWithPrefix(t *testing.T) {
	t.Parallel()
	assert.NoError(t, errdefs.WithPrefix("a", nil))
	orig := errdefs.Invalid("memory", "too small")
	got := errdefs.WithPrefix("containerDefinitions[1]", orig)
	assert.Equal(t, "containerDefinitions[1].memory", errdefs.FieldErrors(got)[0].Path)
	assert.Equal(t, "memory", errdefs.FieldErrors(orig)[0].Path, "the original is not changed")

	joined := errdefs.WithPrefix("rules", errors.Join(errdefs.Invalid("[0].port", "x"), errdefs.Invalid("", "y"), errors.New("z")))
	var paths []string
	for _, fe := range errdefs.FieldErrors(joined) {
		paths = append(paths, fe.Path)
	}
	assert.Equal(t, []string{"rules[0].port", "rules"}, paths)
	assert.ErrorContains(t, joined, "z")

	wrapped := fmt.Errorf("context: %w", orig)
	assert.Same(t, wrapped, errdefs.WithPrefix("p", wrapped), "a wrapped field error keeps its wrapper's text")
}

func TestJoinPath(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ prefix, path, want string }{
		{"", "a", "a"}, {"a", "", "a"}, {"a", "b", "a.b"}, {"a", "[1].b", "a[1].b"},
	} {
		assert.Equal(t, tt.want, errdefs.JoinPath(tt.prefix, tt.path))
	}
}

// TestImportsOnlyStandardLibrary keeps the package usable by the pure
// packages, which build on any OS.
func TestImportsOnlyStandardLibrary(t *testing.T) {
	t.Parallel()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not in PATH")
	}
	cmd := exec.Command(goTool, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Equal(t, []string{"github.com/stevedore-io/stevedore/errdefs"}, strings.Fields(string(out)))
}
