//go:build linux

package leakcheck

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	tasks "github.com/containerd/containerd/api/services/tasks/v1"
	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs/pkg/errgrpc"
	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/stevedore-io/stevedore/internal/nldump"
)

// findContainerd lists containers, tasks and writable snapshots in the
// containerd namespaces carrying the prefix.
func findContainerd(ctx context.Context, cfg Config) ([]Leak, error) {
	c, err := client.New(cfg.ContainerdAddress, client.WithTimeout(10*time.Second))
	if err != nil {
		return nil, fmt.Errorf("leakcheck: connect to containerd at %s: %w", cfg.ContainerdAddress, err)
	}
	defer c.Close()
	all, err := c.NamespaceService().List(ctx)
	if err != nil {
		return nil, fmt.Errorf("leakcheck: list containerd namespaces: %w", errgrpc.ToNative(err))
	}
	snapshotters := loadedSnapshotters(ctx, c)
	var leaks []Leak
	var errs []error
	for _, ns := range all {
		if !strings.HasPrefix(ns, cfg.ContainerdNamespacePrefix) {
			continue
		}
		nctx := namespaces.WithNamespace(ctx, ns)
		cs, err := c.ContainerService().List(nctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("leakcheck: list containers in %s: %w", ns, errgrpc.ToNative(err)))
		}
		for _, ctr := range cs {
			leaks = append(leaks, Leak{Kind: "container", Name: ctr.ID, Where: ns, Detail: "image " + ctr.Image})
		}
		resp, err := c.TaskService().List(nctx, &tasks.ListTasksRequest{})
		if err != nil {
			errs = append(errs, fmt.Errorf("leakcheck: list tasks in %s: %w", ns, errgrpc.ToNative(err)))
		} else {
			for _, t := range resp.Tasks {
				leaks = append(leaks, Leak{Kind: "task", Name: t.ID, Where: ns, Detail: fmt.Sprintf("pid %d, %s", t.Pid, t.Status)})
			}
		}
		for _, sn := range snapshotters {
			err := c.SnapshotService(sn).Walk(nctx, func(_ context.Context, info snapshots.Info) error {
				if info.Kind != snapshots.KindCommitted {
					leaks = append(leaks, Leak{Kind: "snapshot", Name: info.Name, Where: ns, Detail: fmt.Sprintf("%s, snapshotter %s", info.Kind, sn)})
				}
				return nil
			})
			if err != nil {
				errs = append(errs, fmt.Errorf("leakcheck: walk %s snapshots in %s: %w", sn, ns, errgrpc.ToNative(err)))
			}
		}
	}
	return leaks, errors.Join(errs...)
}

// loadedSnapshotters asks the daemon which snapshotters work, falling back
// to DefaultSnapshotters.
func loadedSnapshotters(ctx context.Context, c *client.Client) []string {
	resp, err := c.IntrospectionService().Plugins(ctx, "type==io.containerd.snapshotter.v1")
	if err != nil {
		return DefaultSnapshotters
	}
	var out []string
	for _, p := range resp.Plugins {
		if p.InitErr == nil {
			out = append(out, p.ID)
		}
	}
	if len(out) == 0 {
		return DefaultSnapshotters
	}
	return out
}

// findNetwork lists network namespaces, veths, bridges and nftables tables
// of the host that are Stevedore's.
func findNetwork(cfg Config) ([]Leak, error) {
	var leaks []Leak
	var errs []error

	h, err := netlink.NewHandle()
	if err != nil {
		return nil, fmt.Errorf("leakcheck: netlink: %w", err)
	}
	defer h.Close()
	links, err := nldump.Retry(h.LinkList)
	if err != nil {
		errs = append(errs, fmt.Errorf("leakcheck: list links: %w", err))
	}
	stevedoreVethMasters := map[int]bool{}
	for _, l := range links {
		a := l.Attrs()
		if l.Type() == "veth" && (cfg.hasPrefix(a.Name) || (!cfg.NoLabels && strings.HasPrefix(a.Alias, TaskLabel))) {
			leaks = append(leaks, Leak{Kind: "veth", Name: a.Name, Detail: labelDetail(a.Alias)})
			if a.MasterIndex > 0 {
				stevedoreVethMasters[a.MasterIndex] = true
			}
		}
	}
	for _, l := range links {
		a := l.Attrs()
		if l.Type() == "bridge" && (cfg.hasPrefix(a.Name) || stevedoreVethMasters[a.Index]) {
			leaks = append(leaks, Leak{Kind: "bridge", Name: a.Name})
		}
	}

	entries, err := os.ReadDir(cfg.NetNSDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, fmt.Errorf("leakcheck: list network namespaces: %w", err))
	}
	for _, e := range entries {
		path := filepath.Join(cfg.NetNSDir, e.Name())
		alias := ""
		if !cfg.NoLabels {
			alias = loopbackAlias(path)
		}
		if cfg.hasPrefix(e.Name()) || strings.HasPrefix(alias, TaskLabel) {
			leaks = append(leaks, Leak{Kind: "netns", Name: path, Detail: labelDetail(alias)})
		}
	}

	conn, err := nftables.New()
	if err != nil {
		errs = append(errs, fmt.Errorf("leakcheck: nftables: %w", err))
		return leaks, errors.Join(errs...)
	}
	tables, err := conn.ListTables()
	if err != nil {
		errs = append(errs, fmt.Errorf("leakcheck: list nftables tables: %w", err))
	}
	for _, t := range tables {
		if cfg.hasPrefix(t.Name) {
			leaks = append(leaks, Leak{Kind: "nftables table", Name: familyName(t.Family) + " " + t.Name})
		}
	}
	return leaks, errors.Join(errs...)
}

// loopbackAlias returns the alias of the loopback of the namespace bound at
// path, or "" when it cannot be read.
func loopbackAlias(path string) string {
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return ""
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return ""
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err != nil {
		return ""
	}
	return lo.Attrs().Alias
}

func labelDetail(alias string) string {
	if id, ok := strings.CutPrefix(alias, TaskLabel); ok {
		return "task " + id
	}
	return ""
}

func familyName(f nftables.TableFamily) string {
	switch f {
	case nftables.TableFamilyINet:
		return "inet"
	case nftables.TableFamilyIPv4:
		return "ip"
	case nftables.TableFamilyIPv6:
		return "ip6"
	case nftables.TableFamilyARP:
		return "arp"
	case nftables.TableFamilyBridge:
		return "bridge"
	case nftables.TableFamilyNetdev:
		return "netdev"
	}
	return fmt.Sprintf("family-%d", f)
}
