package netlinux

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"
)

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

// brportForwarding is BR_STATE_FORWARDING in /sys/class/net/*/brport/state.
const brportForwarding = "3"

// waitForwarding waits until the bridge forwards through the port iface,
// polling sysfs (of the host: sysfs shows the namespace that mounted it)
// with growing pauses, at most for timeout.
func waitForwarding(iface string, timeout time.Duration) error {
	path := "/sys/class/net/" + iface + "/brport/state"
	deadline := time.Now().Add(timeout)
	pause := 20 * time.Microsecond
	for {
		b, err := os.ReadFile(path)
		if err == nil && strings.TrimSpace(string(b)) == brportForwarding {
			return nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("port state %s after %v", strings.TrimSpace(string(b)), timeout)
			}
			return err
		}
		time.Sleep(pause)
		pause = min(2*pause, 5*time.Millisecond)
	}
}
