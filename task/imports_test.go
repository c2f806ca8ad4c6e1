package task_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestImportsOnlyStandardLibrary keeps the package pure: it builds on any
// OS because it depends on nothing outside the standard library but the
// health-check command parser it shares with package health and the
// quoting of input in errors it shares with the other pure packages, and
// the error kinds of package errdefs.
func TestImportsOnlyStandardLibrary(t *testing.T) {
	t.Parallel()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not in PATH")
	}
	for _, goos := range []string{"linux", "darwin", "windows"} {
		cmd := exec.Command(goTool, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".")
		cmd.Env = append(cmd.Environ(), "GOOS="+goos, "CGO_ENABLED=0")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		assert.Equal(t, []string{
			"github.com/stevedore-io/stevedore/errdefs",
			"github.com/stevedore-io/stevedore/internal/healthcmd",
			"github.com/stevedore-io/stevedore/internal/quote",
			"github.com/stevedore-io/stevedore/task",
		}, strings.Fields(string(out)), "GOOS=%s", goos)
	}
}
