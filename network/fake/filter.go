package fake

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/stevedore-io/stevedore/network"
)

// ErrDropped is returned (wrapped) when a task's security-group policy
// drops a connection: the sender's outbound rules or the receiver's
// inbound rules do not allow it. On Linux the packets would vanish and the
// connection time out; the fake says so at once.
var ErrDropped = errors.New("fake network: dropped by security-group rules")

// Check tells whether a task may open a connection of proto to the
// address and port to (port 0 for icmp and all), enforcing the policies
// in force (from Setup or the latest UpdateIngress) as network/netlinux
// does:
//
//   - the sender's outbound rules (IngressPolicy.Egress; unrestricted when
//     nil) must allow the destination and port;
//   - when the destination is another task's address, that task's inbound
//     rules must allow the sender's address (a task in awsvpc or bridge
//     mode is seen with its own address; a task in host mode with the
//     subnet's gateway, as the host reaches the subnet through the bridge).
//
// Loopback and the task's own address are never filtered. Rules that name
// groups are enforced as the caller resolved them, with the addresses the
// policy holds. The error wraps ErrDropped when a policy drops the
// connection, network.ErrNotFound when the sender has no attachment, and
// network.ErrInvalid for a none-mode task (it has only loopback) or a bad
// address.
func (p *Provider) Check(fromTaskID string, proto network.Protocol, to netip.AddrPort) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, err := p.checkLocked(fromTaskID, proto, to)
	return err
}

// checkLocked is Check; it also returns the task whose address to is
// ("" for none, or for the sender itself).
func (p *Provider) checkLocked(fromTaskID string, proto network.Protocol, to netip.AddrPort) (string, error) {
	from, ok := p.attachments[fromTaskID]
	if !ok {
		return "", fmt.Errorf("task %q: %w", fromTaskID, network.ErrNotFound)
	}
	dst := to.Addr().Unmap()
	if !dst.IsValid() {
		return "", fmt.Errorf("%w: no destination address", network.ErrInvalid)
	}
	if dst.IsLoopback() || from.Address.IsValid() && dst == from.Address.Addr() {
		return "", nil
	}
	if from.Mode == network.ModeNone {
		return "", fmt.Errorf("%w: task %q is in none mode: it reaches nothing but its loopback", network.ErrInvalid, fromTaskID)
	}
	src := p.alloc.IPAM().Gateway()
	if from.Address.IsValid() {
		src = from.Address.Addr()
	}
	if !p.ingress[fromTaskID].AllowsOutbound(dst, proto, to.Port()) {
		return "", fmt.Errorf("%w: %s %s from task %q: its outbound rules do not allow it", ErrDropped, proto, to, fromTaskID)
	}
	for id, att := range p.attachments {
		if !att.Address.IsValid() || att.Address.Addr() != dst {
			continue
		}
		if !p.ingress[id].AllowsInbound(src, proto, to.Port()) {
			return "", fmt.Errorf("%w: %s %s from task %q (%s): the inbound rules of task %q do not allow it", ErrDropped, proto, to, fromTaskID, src, id)
		}
		return id, nil
	}
	return "", nil
}
