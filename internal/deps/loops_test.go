package deps_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rootPackage is the Orchestrator's package: it wires the loops, so no
// loop may import it (a loop that could reach the Orchestrator could reach
// everything, and nobody could see what it depends on).
const rootPackage = "github.com/stevedore-io/stevedore"

// loops are the control plane's components and what they share, which meet
// only in the store, with the code behind the API's calls (internal/actions)
// and the API's shapes (api): none may import the root package, even
// indirectly.
var loops = []string{
	"./api",
	"./internal/actions",
	"./internal/controller",
	"./internal/dnssync",
	"./internal/launch",
	"./internal/leader",
	"./internal/reaper",
	"./internal/scaler",
	"./internal/sgsync",
	"./internal/shift",
	"./internal/subscription",
	"./internal/supervisor",
	"./internal/targets",
	"./internal/taskfeed",
	"./agent",
}

func TestNoLoopImportsTheRoot(t *testing.T) {
	t.Parallel()
	root := moduleRoot(t)
	for _, pattern := range loops {
		t.Run(strings.Trim(pattern, "./"), func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(goTool(), "list", "-e", "-deps", "-f", "{{.ImportPath}}", pattern)
			cmd.Dir = root
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "go list: %s", out)
			deps := strings.Fields(string(out))
			require.NotEmpty(t, deps)
			assert.False(t, slices.Contains(deps, rootPackage), "%s depends on the root package %s", pattern, rootPackage)
		})
	}
}

func TestTheLoopsAreListed(t *testing.T) {
	t.Parallel()
	// Every package under internal/ that follows the store is a loop the
	// test above checks: a new one must be added to loops.
	root := moduleRoot(t)
	cmd := exec.Command(goTool(), "list", "-e", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "./internal/...")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go list: %s", out)
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := fields[0]
		if !slices.Contains(fields[1:], rootPackage+"/store") || pkg == rootPackage+"/internal/state" {
			continue
		}
		rel := "./" + strings.TrimPrefix(pkg, rootPackage+"/")
		assert.Contains(t, loops, rel, "%s uses the store: list it in loops", pkg)
	}
}
