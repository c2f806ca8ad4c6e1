package netlinux

import (
	"errors"
	"fmt"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
)

// Leftovers lists, as "kind name" strings, every kernel object the
// provider's configuration owns: namespaces, veths and nftables tables
// carrying NamePrefix (the provider's host table included), and the bridge.
// After Destroy it is empty unless the kernel is still removing a deleted
// namespace's veth, which takes a moment. Test suites use it as a leak
// check.
func (p *Provider) Leftovers() ([]string, error) {
	objs, err := p.listObjects()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range objs.netns {
		out = append(out, "netns "+n)
	}
	for _, l := range objs.veths {
		out = append(out, "veth "+l.Attrs().Name)
	}
	for _, t := range objs.tables {
		out = append(out, "nftables table "+t)
	}
	for _, t := range objs.guards {
		out = append(out, "nftables bridge table "+t)
	}
	err = p.withNFT(func(conn *nftables.Conn) error {
		_, err := conn.ListTableOfFamily(hostTableName(p.cfg.NamePrefix), nftables.TableFamilyIPv4)
		return err
	})
	if err == nil {
		out = append(out, "nftables table "+hostTableName(p.cfg.NamePrefix))
	}
	_, err = p.nl.LinkByName(p.cfg.BridgeName)
	var notFound netlink.LinkNotFoundError
	switch {
	case errors.As(err, &notFound):
	case err != nil:
		return nil, fmt.Errorf("netlinux: look up bridge: %w", err)
	default:
		out = append(out, "bridge "+p.cfg.BridgeName)
	}
	return out, nil
}
