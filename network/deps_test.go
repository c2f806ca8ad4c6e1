package network_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPurePackagesStayPure keeps netlink, netns, nftables and containerd
// out of network and network/fake, which must build on any OS.
func TestPurePackagesStayPure(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs the go command")
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not in PATH")
	}
	for _, pkg := range []string{"github.com/stevedore-io/stevedore/network", "github.com/stevedore-io/stevedore/network/fake"} {
		out, err := exec.Command(goCmd, "list", "-deps", pkg).CombinedOutput()
		require.NoError(t, err, string(out))
		for _, dep := range strings.Fields(string(out)) {
			for _, banned := range []string{"github.com/vishvananda/", "github.com/google/nftables", "github.com/containerd/", "golang.org/x/sys/unix"} {
				assert.False(t, strings.HasPrefix(dep, banned), "%s imports %s", pkg, dep)
			}
		}
	}
}
