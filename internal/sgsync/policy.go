package sgsync

import (
	"errors"
	"net/netip"

	"github.com/stevedore-io/stevedore/internal/state"
	"github.com/stevedore-io/stevedore/network"
	"github.com/stevedore-io/stevedore/store"
	"github.com/stevedore-io/stevedore/task"
)

// MemberAddr returns the address t lends to the security groups it is in
// (task.Task.SecurityGroups): its network address once the agent has
// reported one, until the task reaches DEPROVISIONING, when its network is
// torn down and the address goes back to the pool. ok is false when t is
// a member of no group's address set.
func MemberAddr(t *state.Task) (addr netip.Addr, ok bool) {
	if t == nil || t.Task == nil || len(t.SecurityGroups) == 0 || t.Network == nil || !t.Network.Address.IsValid() {
		return netip.Addr{}, false
	}
	if t.LastStatus == task.Deprovisioning || t.LastStatus == task.Stopped {
		return netip.Addr{}, false
	}
	return t.Network.Address.Addr(), true
}

// Members indexes the addresses of the members of every security group,
// from the tasks given (see MemberAddr).
type Members map[string][]netip.Addr

// MembersOf builds the index of tasks.
func MembersOf(tasks []*state.Task) Members {
	m := Members{}
	for _, t := range tasks {
		addr, ok := MemberAddr(t)
		if !ok {
			continue
		}
		for _, id := range t.SecurityGroups {
			m[id] = append(m[id], addr)
		}
	}
	return m
}

// Of returns the addresses of the members of group id; it is a
// network.GroupMembers.
func (m Members) Of(id string) []netip.Addr { return m[id] }

// dnsPort is the port of the resolvers a task is given: resolv.conf names
// no port.
const dnsPort = 53

// Policy returns the policy of a task in groups whose resolv.conf is dns
// (nil: the host's): network.ResolvePolicy with members, and, when the
// groups restrict the task's outbound traffic, udp and tcp port 53 to the
// IPv4 servers of dns allowed. AWS exempts its own resolver (the VPC's
// base address + 2) from security groups, so that a task whose outbound
// rules name no DNS server still resolves names; the server the
// Orchestrator gives a task (service discovery's) plays that part here.
// Servers a task definition names itself take a rule like any address.
// The result is nil without groups (no filtering).
func Policy(members network.GroupMembers, dns *network.DNSConfig, groups ...*network.SecurityGroup) *network.IngressPolicy {
	if len(groups) == 0 {
		return nil
	}
	if resolver := resolverGroup(dns); resolver != nil {
		groups = append(groups[:len(groups):len(groups)], resolver)
	}
	return network.ResolvePolicy(members, groups...)
}

// resolverGroup is a group with only the outbound rules that reach the
// servers of dns; nil when there is none. Added to a task's groups, it
// leaves unrestricted egress unrestricted (it does not allow all).
func resolverGroup(dns *network.DNSConfig) *network.SecurityGroup {
	if dns == nil {
		return nil
	}
	var servers []netip.Prefix
	for _, s := range dns.Servers {
		if s = s.Unmap(); s.Is4() {
			servers = append(servers, netip.PrefixFrom(s, 32))
		}
	}
	if len(servers) == 0 {
		return nil
	}
	return &network.SecurityGroup{EgressRules: []network.EgressRule{
		{Protocol: network.ProtocolUDP, FromPort: dnsPort, ToPort: dnsPort, Destinations: servers},
		{Protocol: network.ProtocolTCP, FromPort: dnsPort, ToPort: dnsPort, Destinations: servers},
	}}
}

// TaskPolicy returns the policy t is to have now: Policy of its groups as
// stored in tx, with members and t.DNS. A group that no longer exists is
// left out (a group is not deleted while a task not yet STOPPED is in it).
func TaskPolicy(tx store.ReadTx, t *state.Task, members network.GroupMembers) (*network.IngressPolicy, error) {
	groups := make([]*network.SecurityGroup, 0, len(t.SecurityGroups))
	for _, id := range t.SecurityGroups {
		g, err := store.Get[*state.SecurityGroup](tx, state.KindSecurityGroups, id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		groups = append(groups, &g.SecurityGroup)
	}
	if len(groups) == 0 {
		return nil, nil
	}
	return Policy(members, t.DNS, groups...), nil
}

// Refresh gives every task not yet STOPPED for which affected returns true
// the policy it is to have now (TaskPolicy, with the members as tx holds
// them), writing the task only when its Ingress changes. It returns how
// many tasks it wrote. The API calls it when a group's rules change, and
// the loop when a group's members do.
func Refresh(tx store.Tx, affected func(*state.Task) bool) (int, error) {
	tasks, err := store.List[*state.Task](tx, state.KindTasks)
	if err != nil {
		return 0, err
	}
	var members Members // built on first use: most refreshes name no group
	lazy := func(id string) []netip.Addr {
		if members == nil {
			members = MembersOf(tasks)
		}
		return members.Of(id)
	}
	written := 0
	for _, t := range tasks {
		if t.LastStatus == task.Stopped || len(t.SecurityGroups) == 0 || !affected(t) {
			continue
		}
		policy, err := TaskPolicy(tx, t, lazy)
		if err != nil {
			return written, err
		}
		if policy.Equal(t.Ingress) {
			continue
		}
		next := t.Copy()
		next.Ingress = policy
		if err := tx.Update(next); err != nil {
			return written, err
		}
		written++
	}
	return written, nil
}

// LazyMembers returns the members of every group as tx holds them, read
// on the first call (a policy whose rules name no group never asks). The
// tasks are listed at most once; a failure to list them is returned by
// err, which the caller checks after resolving.
func LazyMembers(tx store.ReadTx) (members network.GroupMembers, err func() error) {
	var (
		index   Members
		listErr error
	)
	members = func(id string) []netip.Addr {
		if index == nil && listErr == nil {
			tasks, err := store.List[*state.Task](tx, state.KindTasks)
			if err != nil {
				listErr = err
				return nil
			}
			index = MembersOf(tasks)
		}
		return index.Of(id)
	}
	return members, func() error { return listErr }
}
