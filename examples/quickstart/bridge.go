package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
)

// fixBridgeMAC works around a bug of network/netlinux, until it is fixed
// there: the provider creates its bridge without a MAC address of its own,
// so Linux gives the bridge the lowest MAC of its ports and changes it
// whenever that port goes, that is whenever the task owning it stops. The
// other tasks still hold the gateway's old MAC in their neighbour tables and
// send their replies to it; the bridge no longer takes those frames for
// itself, and connections to the tasks fail for seconds, until the tasks
// find the gateway again. Roll-outs stop tasks, so the demo's requests to
// the new tasks would time out now and then.
//
// A bridge whose MAC was set keeps it. fixBridgeMAC creates the bridge
// (netlinux adopts an existing bridge of its name) or, when it exists,
// sets its MAC: a locally administered address derived from the gateway's,
// as Docker and the CNI bridge plugin do. It uses iproute2's ip, which
// make demo installs, because only network/netlinux may speak netlink.
func fixBridgeMAC(ctx context.Context, bridge string, gateway netip.Addr) (string, error) {
	b := gateway.As4()
	mac := net.HardwareAddr{0x02, 0x53, b[0], b[1], b[2], b[3]}.String()
	if _, err := net.InterfaceByName(bridge); err != nil {
		if out, err := exec.CommandContext(ctx, "ip", "link", "add", "name", bridge, "address", mac, "type", "bridge").CombinedOutput(); err != nil {
			return "", fmt.Errorf("create bridge %s: ip link add: %w: %s", bridge, err, strings.TrimSpace(string(out)))
		}
		return mac, nil
	}
	if _, err := os.Stat("/sys/class/net/" + bridge + "/bridge"); err != nil {
		return "", fmt.Errorf("%s exists and is not a bridge: pick another name with -bridge", bridge)
	}
	if out, err := exec.CommandContext(ctx, "ip", "link", "set", "dev", bridge, "address", mac).CombinedOutput(); err != nil {
		return "", fmt.Errorf("set the MAC of bridge %s: ip link set: %w: %s", bridge, err, strings.TrimSpace(string(out)))
	}
	return mac, nil
}
