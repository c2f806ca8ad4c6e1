package agent

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/stevedore-io/stevedore/cluster"
)

// RootStateDir is where the state directories of agents running as root
// live by default, one per instance (see DefaultStateDir).
const RootStateDir = "/var/lib/stevedore/agent"

// rootStateDir is RootStateDir, but for tests.
var rootStateDir = RootStateDir

// ErrUnsafeStateDir means a path of the agent's state directory, or one of
// the directories above it, could let another user choose what a task
// mounts: it is a symbolic link (at or below the state directory, or
// another user's above it), it is owned by another user, or, above the
// state directory, others may write to it without the sticky bit. The agent neither follows nor uses it; the task that
// needed it fails to start with the error.
var ErrUnsafeStateDir = errors.New("agent: unsafe state directory")

// DefaultStateDir returns the state directory of the agent of instanceID
// when Config.StateDir is empty: RootStateDir/<instanceID> when the process
// runs as root, <os.UserCacheDir()>/stevedore/agent/<instanceID> otherwise.
// Both are private to the user that runs the agent, unlike a directory in a
// world-writable one such as /tmp, where another user could plant a
// directory or a symbolic link first. The directory persists: a task's
// volumes must survive a restart of the agent, which adopts the task.
func DefaultStateDir(instanceID string) (string, error) {
	if err := cluster.ValidateInstanceID(instanceID); err != nil {
		return "", err
	}
	if os.Geteuid() == 0 {
		return filepath.Join(rootStateDir, instanceID), nil
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("agent: no default state directory (%w); set Config.StateDir", err)
	}
	return filepath.Join(cache, "stevedore", "agent", instanceID), nil
}

// stateDir is an agent's state directory. Nothing is created before a task
// needs a directory: an agent whose tasks have no volume of their own (the
// usual unit test with the fakes) uses no disk. Every directory is opened
// one component at a time without following symbolic links, and checked
// for its owner (see ErrUnsafeStateDir); the state directory itself is
// 0700, so that no other user can reach below it afterwards.
type stateDir struct {
	path string
	err  error // why there is no path (no default could be found)

	mu sync.Mutex
	// made are the directories down to path (inclusive) that this agent
	// created, shallowest first: prune removes them again when empty.
	made []string
}

func newStateDir(path, instanceID string) *stateDir {
	if path != "" {
		return &stateDir{path: filepath.Clean(path)}
	}
	p, err := DefaultStateDir(instanceID)
	return &stateDir{path: p, err: err}
}

// join returns the path of elems below the state directory.
func (d *stateDir) join(elems ...string) string {
	return filepath.Join(append([]string{d.path}, elems...)...)
}

// mkdir creates the directory at elems below the state directory, with
// mode (0700 for the directories on the way, the state directory
// included), and the state directory itself when it is missing. It
// refuses symbolic links and directories owned by another user on the whole
// path (ErrUnsafeStateDir), and returns the directory's path.
func (d *stateDir) mkdir(mode os.FileMode, elems ...string) (string, error) {
	if d.err != nil {
		return "", d.err
	}
	made, err := secureMkdir(d.path, elems, mode)
	d.mu.Lock()
	for _, m := range made {
		if !slices.Contains(d.made, m) && !strings.HasPrefix(m, d.path+string(filepath.Separator)) {
			d.made = append(d.made, m)
		}
	}
	d.mu.Unlock()
	if err != nil {
		return "", err
	}
	return d.join(elems...), nil
}

// rel splits path, below the state directory, into its elements.
func (d *stateDir) rel(path string) ([]string, error) {
	r, err := filepath.Rel(d.path, path)
	if err != nil || r == "." || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
		return nil, fmt.Errorf("agent: %s is not below the state directory %s", path, d.path)
	}
	return strings.Split(r, string(filepath.Separator)), nil
}

// check reports whether the state directory exists and is safe to read:
// false, nil when it does not exist.
func (d *stateDir) check() (bool, error) {
	if d.err != nil {
		return false, nil
	}
	return secureExists(d.path)
}

// prune removes what the agent made that holds nothing any more: the
// directories of shared volumes that are empty, "volumes" and "tasks" when
// empty, and the state directory and the directories above it that this
// agent created, when empty. The agent calls it when Run ends, after its
// runners, which remove their task's directory when the task stops: an
// agent whose tasks have all stopped leaves nothing behind. A task left
// running keeps its directory for the agent that adopts it.
func (d *stateDir) prune() {
	if ok, err := d.check(); !ok || err != nil {
		return
	}
	if entries, err := os.ReadDir(d.join("volumes")); err == nil {
		for _, e := range entries {
			removeEmptyDir(d.join("volumes", e.Name()))
		}
	}
	removeEmptyDir(d.join("volumes"))
	removeEmptyDir(d.join("tasks"))
	d.mu.Lock()
	defer d.mu.Unlock()
	for i := len(d.made) - 1; i >= 0; i-- {
		if !removeEmptyDir(d.made[i]) {
			break // the ones above are not empty either
		}
		d.made = d.made[:i]
	}
}

// removeEmptyDir removes dir if it is an empty directory (not a symbolic
// link), and reports whether dir is gone.
func removeEmptyDir(dir string) bool {
	fi, err := os.Lstat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return true
	}
	if err != nil || !fi.IsDir() {
		return false
	}
	return os.Remove(dir) == nil // fails on a directory that is not empty
}
