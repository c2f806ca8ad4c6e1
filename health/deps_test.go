package health

import (
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPureDependencies keeps the package free of container runtimes and
// networking: besides the standard library it may only use Stevedore's
// command parser and its error kinds (errdefs), on every OS. The probers, which need the runtime and the
// network, are in health/probe; internal/deps keeps net/http and os/exec
// out as well.
func TestPureDependencies(t *testing.T) {
	t.Parallel()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not in PATH; cannot list dependencies")
	}
	for _, goos := range []string{runtime.GOOS, "linux", "windows", "darwin"} {
		t.Run(goos, func(t *testing.T) {
			t.Parallel()
			cmd := exec.CommandContext(t.Context(), goTool, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".")
			cmd.Env = append(cmd.Environ(), "GOOS="+goos, "CGO_ENABLED=0")
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "%s", out)
			deps := strings.Fields(string(out))
			assert.ElementsMatch(t, []string{
				"github.com/stevedore-io/stevedore/health",
				"github.com/stevedore-io/stevedore/internal/healthcmd",
				"github.com/stevedore-io/stevedore/errdefs",
			}, deps)
		})
	}
}
