//go:build linux

package containerd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	tasks "github.com/containerd/containerd/api/services/tasks/v1"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/errdefs/pkg/errgrpc"
)

// ErrLeak is returned by LeakCheck when resources are left behind.
var ErrLeak = errors.New("containerd: resources left behind")

// LeakCheck reports what is left in the runtime's namespace: containers,
// tasks, active (writable) snapshots in its snapshotter, and FIFO
// directories. Image layers (committed snapshots) are not leaks. Tests call
// it after deleting everything they created.
func (r *Runtime) LeakCheck(ctx context.Context) (err error) {
	ctx, err = r.begin(ctx)
	if err != nil {
		return err
	}
	var leaks []string
	cs, err := r.client.ContainerService().List(ctx)
	if err != nil {
		return fmt.Errorf("leak check: list containers: %w", err)
	}
	for _, c := range cs {
		leaks = append(leaks, "container "+c.ID)
	}
	resp, err := r.client.TaskService().List(ctx, &tasks.ListTasksRequest{})
	if err != nil {
		return fmt.Errorf("leak check: list tasks: %w", errgrpc.ToNative(err))
	}
	for _, t := range resp.Tasks {
		leaks = append(leaks, "task "+t.ID)
	}
	err = r.client.SnapshotService(r.snapshotter).Walk(ctx, func(_ context.Context, info snapshots.Info) error {
		if info.Kind != snapshots.KindCommitted {
			leaks = append(leaks, fmt.Sprintf("%s snapshot %s", info.Kind, info.Name))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("leak check: walk snapshots: %w", err)
	}
	dirs, err := os.ReadDir(r.opts.fifoDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("leak check: %w", err)
	}
	for _, d := range dirs {
		leaks = append(leaks, "FIFO directory "+d.Name())
	}
	if len(leaks) == 0 {
		return nil
	}
	sort.Strings(leaks)
	return fmt.Errorf("%w in namespace %q: %s", ErrLeak, r.opts.namespace, strings.Join(leaks, ", "))
}
