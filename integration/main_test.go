package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stevedore-io/stevedore/agent"
	"github.com/stevedore-io/stevedore/internal/leakcheck"
	"github.com/stevedore-io/stevedore/internal/ocitest"
)

// addressEnv names the variable holding containerd's socket, exported by
// scripts/with-containerd.sh.
const addressEnv = "STEVEDORE_CONTAINERD_ADDRESS"

// Names the package uses, and nothing else uses: the final leak check
// looks at these only, so that other packages' tests running at the same
// time on the same host are not mistaken for leaks.
const (
	// namespacePrefix starts every containerd namespace of the tests.
	namespacePrefix = "stevedore-integration-"
	// namePrefix starts every bridge, namespace, veth and nftables table.
	namePrefix = "stvi"
	// imageRef is the busybox image every task runs.
	imageRef = "stevedore.local/busybox:integration"
)

var (
	// skipReason is why the tests cannot run here ("" when they can).
	skipReason string
	// address is containerd's socket.
	address string
	// imageArchive is the busybox image as an OCI layout tar, built once.
	imageArchive []byte
	// fifoRoot holds one FIFO directory per test.
	fifoRoot string

	// checkedMu guards the directories TestMain's leak check looks into.
	checkedMu sync.Mutex
	fifoDirs  []string
	agentDirs []string
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	address = os.Getenv(addressEnv)
	switch {
	case os.Geteuid() != 0:
		skipReason = "needs root: it creates containers, network namespaces, bridges and nftables tables (run: sudo ./scripts/with-containerd.sh go test ./integration/)"
	case address == "":
		skipReason = addressEnv + " is not set: run under ./scripts/with-containerd.sh, which starts a private containerd"
	}
	if skipReason != "" {
		return m.Run()
	}
	var buf bytes.Buffer
	if err := ocitest.BusyboxArchive(&buf, imageRef, nil); err != nil {
		fmt.Fprintln(os.Stderr, "integration: build the busybox image:", err)
		return 1
	}
	imageArchive = buf.Bytes()
	dir, err := os.MkdirTemp("", "stevedore-integration-fifo-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		return 1
	}
	fifoRoot = dir
	defer os.RemoveAll(dir)

	code := m.Run()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := leakcheck.Check(ctx, packageLeakConfig()); err != nil {
		fmt.Fprintf(os.Stderr, "integration: leak check after the tests: %v\n", err)
		return 1
	}
	fmt.Fprintln(os.Stderr, "integration: leak check: nothing left behind")
	return code
}

// packageLeakConfig is the leak check of everything the package's tests
// create, and only that.
func packageLeakConfig() leakcheck.Config {
	checkedMu.Lock()
	defer checkedMu.Unlock()
	return leakcheck.Config{
		ContainerdAddress:         address,
		ContainerdNamespacePrefix: namespacePrefix,
		NamePrefixes:              []string{namePrefix},
		// Other packages' tasks carry the label too; the prefix is ours.
		NoLabels:       true,
		FIFODirs:       slices.Clone(fifoDirs),
		AgentStateDirs: slices.Clone(agentDirs),
	}
}

func recordCheckedDirs(fifo, agent string) {
	checkedMu.Lock()
	defer checkedMu.Unlock()
	fifoDirs = append(fifoDirs, fifo)
	agentDirs = append(agentDirs, agent)
}

// needIntegration skips the test when it cannot run here, and fails it
// when CI=true: there the environment must provide root and containerd.
func needIntegration(t *testing.T) {
	t.Helper()
	if skipReason == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but the integration tests cannot run: %s", skipReason)
	}
	t.Skip(skipReason)
}

// agentStateDir is where the agent of an instance keeps its files (the
// root package does not set agent.Config.StateDir, so the agent's default).
func agentStateDir(instanceID string) string {
	dir, err := agent.DefaultStateDir(instanceID)
	if err != nil {
		panic(err) // the tests' instance IDs are valid, and they run as root
	}
	return dir
}
