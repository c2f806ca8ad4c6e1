package netlinux

import (
	"errors"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
)

// dumpRetries bounds how often a netlink dump is repeated when the kernel
// reports that the objects changed while it was being read (other tasks'
// links come and go all the time).
const dumpRetries = 20

// retryDump calls dump until it returns something other than
// netlink.ErrDumpInterrupted, at most dumpRetries times.
func retryDump[T any](dump func() (T, error)) (T, error) {
	var v T
	var err error
	for range dumpRetries {
		v, err = dump()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return v, err
		}
	}
	return v, err
}

func prefixOf(n *net.IPNet) netip.Prefix {
	if n == nil {
		return netip.Prefix{}
	}
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones)
}
