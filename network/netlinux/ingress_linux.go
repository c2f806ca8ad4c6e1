package netlinux

import (
	"context"
	"fmt"

	"github.com/google/nftables"

	"github.com/stevedore-io/stevedore/network"
)

var _ network.IngressUpdater = (*Provider)(nil)

// UpdateIngress replaces the security-group policy of a task set up
// earlier, inbound and outbound rules together; see
// network.IngressUpdater. The task's table inside its namespace is
// replaced (or, for a nil policy, deleted) in one nftables transaction, so
// no packet in either direction sees a mix of the old and the new rules.
// Connections already established stay established: like AWS security
// groups, the rules decide which connections may start.
func (p *Provider) UpdateIngress(ctx context.Context, taskID string, policy *network.IngressPolicy) error {
	if err := network.ValidateTaskID(taskID); err != nil {
		return err
	}
	if err := policy.Validate(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	p.opMu.RLock()
	defer p.opMu.RUnlock()
	name := objectName(p.cfg.NamePrefix, taskID)
	defer p.names.lock(name)()
	p.mu.Lock()
	rec := p.records[taskID]
	p.mu.Unlock()
	if rec == nil {
		return fmt.Errorf("netlinux: task %q: %w", taskID, network.ErrNotFound)
	}
	if !rec.Mode.HasInterface() {
		return fmt.Errorf("netlinux: task %q: %w: ingress filtering needs an interface on the subnet (awsvpc or bridge mode), not %s",
			taskID, network.ErrInvalid, rec.Mode)
	}
	err := onFreshThread(func() error {
		if err := enterNetNS(rec.NetNSPath); err != nil {
			return err
		}
		conn, err := policyConn() // dials from this thread, in the task's namespace
		if err != nil {
			return err
		}
		if policy == nil {
			t := &nftables.Table{Family: nftables.TableFamilyINet, Name: ingressTableName}
			conn.AddTable(t)
			conn.DelTable(t)
		} else if err := applyIngress(conn, policy); err != nil {
			return err
		}
		return conn.Flush()
	})
	if err != nil {
		return fmt.Errorf("netlinux: update ingress rules of task %q: %w", taskID, err)
	}
	if policy == nil {
		p.log.Debug("ingress filtering removed", "task", taskID)
	} else {
		egress := -1 // unrestricted
		if policy.Egress != nil {
			egress = len(policy.Egress.Rules)
		}
		p.log.Debug("security-group rules updated", "task", taskID, "rules", len(policy.Rules), "egressRules", egress)
	}
	return nil
}
