package leakcheck

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/stevedore-io/stevedore/agent"
)

// Defaults of a Config.
var (
	// DefaultContainerdNamespacePrefix selects the containerd namespaces
	// Stevedore's runtime uses ("stevedore" by default, "stevedore-..." in
	// tests).
	DefaultContainerdNamespacePrefix = "stevedore"
	// DefaultNamePrefixes start the names of the kernel objects of
	// network/netlinux with its default configuration (bridge "stvd0",
	// objects "stvd-..."), of Stevedore's integration tests ("stvi...")
	// and of its chaos trials ("stvc...").
	DefaultNamePrefixes = []string{"stvd", "stvi", "stvc"}
	// DefaultSnapshotters are searched for writable snapshots when the
	// daemon cannot list its snapshotters.
	DefaultSnapshotters = []string{"overlayfs", "native"}
	// DefaultNetNSDir is where named network namespaces are bound.
	DefaultNetNSDir = "/var/run/netns"
	// DefaultFIFODirs hold the FIFOs of runtime/containerd's containers.
	DefaultFIFODirs = []string{"/run/stevedore/fifo"}
	// DefaultTimeout bounds a whole Find.
	DefaultTimeout = 30 * time.Second
)

// TaskLabel starts the alias network/netlinux writes on a task namespace's
// loopback and on the host end of its veth: "stevedore-task=<task ID>".
const TaskLabel = "stevedore-task="

// ErrLeaks is wrapped by the *Error Check returns when something is left.
var ErrLeaks = errors.New("leakcheck: resources left behind")

// ErrUnsupported is returned on systems other than Linux.
var ErrUnsupported = errors.New("leakcheck: only supported on Linux")

// Config says where to look and which names are Stevedore's. The zero
// value checks the host with the defaults and skips containerd.
type Config struct {
	// ContainerdAddress is containerd's socket; empty skips containerd.
	ContainerdAddress string
	// ContainerdNamespacePrefix selects the containerd namespaces to
	// inspect (default DefaultContainerdNamespacePrefix).
	ContainerdNamespacePrefix string
	// NamePrefixes start the names of network namespaces, veths, bridges
	// and nftables tables to report (default DefaultNamePrefixes).
	NamePrefixes []string
	// NoLabels turns off the search for namespaces and veths labelled
	// TaskLabel whatever their name. Label search reads the loopback of
	// every namespace in NetNSDir.
	NoLabels bool
	// NetNSDir is where named network namespaces are bound (default
	// DefaultNetNSDir).
	NetNSDir string
	// FIFODirs are directories whose entries are containers' FIFO
	// directories (default DefaultFIFODirs; missing directories are
	// fine).
	FIFODirs []string
	// AgentStateDirs are agents' state directories, or directories of
	// them: every directory under <dir>/tasks or <dir>/*/tasks is a task
	// directory left behind (default: DefaultAgentStateDirs()).
	AgentStateDirs []string
	// Timeout bounds Find (default DefaultTimeout).
	Timeout time.Duration
}

// DefaultAgentStateDirs is where agents keep their state directories when
// they are given none: the directory of agent.DefaultStateDir's (as root,
// agent.RootStateDir); none when there is no default.
func DefaultAgentStateDirs() []string {
	dir, err := agent.DefaultStateDir("i")
	if err != nil {
		return []string{}
	}
	return []string{filepath.Dir(dir)}
}

func (c Config) withDefaults() Config {
	if c.ContainerdNamespacePrefix == "" {
		c.ContainerdNamespacePrefix = DefaultContainerdNamespacePrefix
	}
	if c.NamePrefixes == nil {
		c.NamePrefixes = slices.Clone(DefaultNamePrefixes)
	}
	if c.NetNSDir == "" {
		c.NetNSDir = DefaultNetNSDir
	}
	if c.FIFODirs == nil {
		c.FIFODirs = slices.Clone(DefaultFIFODirs)
	}
	if c.AgentStateDirs == nil {
		c.AgentStateDirs = DefaultAgentStateDirs()
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	return c
}

// hasPrefix reports whether name starts with one of the configured
// prefixes.
func (c Config) hasPrefix(name string) bool {
	for _, p := range c.NamePrefixes {
		if p != "" && strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// Leak is one thing left behind.
type Leak struct {
	// Kind is "container", "task", "snapshot", "netns", "veth",
	// "bridge", "nftables table", "FIFO directory" or "agent task
	// directory".
	Kind string
	// Name identifies the object: a container ID, a snapshot key, an
	// interface name, "family name" of a table, a path.
	Name string
	// Where is the containerd namespace, or empty for the host.
	Where string
	// Detail says more when there is more to say (a snapshot's kind, the
	// task of a labelled namespace).
	Detail string
}

// String reads like "container web-1 (containerd namespace stevedore)".
func (l Leak) String() string {
	var b strings.Builder
	b.WriteString(l.Kind)
	b.WriteString(" ")
	b.WriteString(l.Name)
	var notes []string
	if l.Where != "" {
		notes = append(notes, "containerd namespace "+l.Where)
	}
	if l.Detail != "" {
		notes = append(notes, l.Detail)
	}
	if len(notes) > 0 {
		b.WriteString(" (" + strings.Join(notes, ", ") + ")")
	}
	return b.String()
}

// Error lists the leaks Check found. It matches ErrLeaks.
type Error struct {
	Leaks []Leak
}

// Error lists what was left behind.
func (e *Error) Error() string {
	lines := make([]string, len(e.Leaks))
	for i, l := range e.Leaks {
		lines[i] = l.String()
	}
	return fmt.Sprintf("%v: %d left:\n  %s", ErrLeaks, len(e.Leaks), strings.Join(lines, "\n  "))
}

// Unwrap makes errors.Is(err, ErrLeaks) true.
func (e *Error) Unwrap() error { return ErrLeaks }

// Check returns nil when Find finds nothing, an *Error listing the leaks,
// or the error that kept Find from looking.
func Check(ctx context.Context, cfg Config) error {
	leaks, err := Find(ctx, cfg)
	if err != nil {
		return err
	}
	if len(leaks) == 0 {
		return nil
	}
	return &Error{Leaks: leaks}
}

// Find lists what is left, sorted by kind, place and name. An error means
// part of the host could not be inspected; the leaks found elsewhere are
// returned with it.
func Find(ctx context.Context, cfg Config) ([]Leak, error) {
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	var leaks []Leak
	var errs []error
	if cfg.ContainerdAddress != "" {
		l, err := findContainerd(ctx, cfg)
		leaks = append(leaks, l...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	l, err := findNetwork(cfg)
	leaks = append(leaks, l...)
	if err != nil {
		errs = append(errs, err)
	}
	l, err = findFiles(cfg)
	leaks = append(leaks, l...)
	if err != nil {
		errs = append(errs, err)
	}
	slices.SortFunc(leaks, func(a, b Leak) int {
		return strings.Compare(a.Kind+"\x00"+a.Where+"\x00"+a.Name, b.Kind+"\x00"+b.Where+"\x00"+b.Name)
	})
	return leaks, errors.Join(errs...)
}

// findFiles lists FIFO directories and agents' task directories.
func findFiles(cfg Config) ([]Leak, error) {
	var leaks []Leak
	var errs []error
	for _, dir := range cfg.FIFODirs {
		entries, err := os.ReadDir(dir)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("leakcheck: FIFO directory: %w", err))
			continue
		}
		for _, e := range entries {
			leaks = append(leaks, Leak{Kind: "FIFO directory", Name: filepath.Join(dir, e.Name())})
		}
	}
	for _, dir := range cfg.AgentStateDirs {
		for _, pattern := range []string{filepath.Join(dir, "tasks", "*"), filepath.Join(dir, "*", "tasks", "*")} {
			matches, err := filepath.Glob(pattern)
			if err != nil {
				errs = append(errs, fmt.Errorf("leakcheck: agent state directory: %w", err))
				continue
			}
			for _, m := range matches {
				if fi, err := os.Stat(m); err == nil && fi.IsDir() {
					leaks = append(leaks, Leak{Kind: "agent task directory", Name: m})
				}
			}
		}
	}
	return leaks, errors.Join(errs...)
}
