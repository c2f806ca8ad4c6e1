package netlinux

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/stevedore-io/stevedore/network"
)

// frame is one hand-made Ethernet frame carrying an IPv4 UDP datagram, as a
// task holding CAP_NET_RAW can send it through an AF_PACKET socket: every
// address in it is the sender's choice.
type frame struct {
	dstMAC, srcMAC net.HardwareAddr
	src, dst       netip.AddrPort
	payload        string
}

func (f frame) bytes() []byte {
	udpLen := 8 + len(f.payload)
	b := make([]byte, 14+20+udpLen)
	copy(b[0:6], f.dstMAC)
	copy(b[6:12], f.srcMAC)
	binary.BigEndian.PutUint16(b[12:14], unix.ETH_P_IP)
	ip := b[14:34]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:4], uint16(20+udpLen))
	ip[8] = 64 // TTL
	ip[9] = unix.IPPROTO_UDP
	src, dst := f.src.Addr().As4(), f.dst.Addr().As4()
	copy(ip[12:16], src[:])
	copy(ip[16:20], dst[:])
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(ip[i : i+2]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(ip[10:12], ^uint16(sum))
	udp := b[34:]
	binary.BigEndian.PutUint16(udp[0:2], f.src.Port())
	binary.BigEndian.PutUint16(udp[2:4], f.dst.Port())
	binary.BigEndian.PutUint16(udp[4:6], uint16(udpLen)) // checksum 0: none, valid for IPv4
	copy(udp[8:], f.payload)
	return b
}

// sendFrames sends frames, in order, out of eth0 of the task namespace at
// path through an AF_PACKET socket.
func sendFrames(t *testing.T, path string, frames ...frame) {
	t.Helper()
	inNetNS(t, path, func() error {
		eth0, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		for _, f := range frames {
			to := &unix.SockaddrLinklayer{Ifindex: eth0.Index, Protocol: htons(unix.ETH_P_IP), Halen: 6}
			copy(to.Addr[:], f.dstMAC)
			if err := unix.Sendto(fd, f.bytes(), 0, to); err != nil {
				return err
			}
		}
		return nil
	})
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// listenUDP listens on addr in the host namespace until the test ends.
func listenUDP(t *testing.T, addr string) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// received returns what arrived on c: it waits up to wait for the first
// datagram, then takes whatever else is already queued.
func received(c *net.UDPConn, wait time.Duration) []string {
	var got []string
	buf := make([]byte, 2048)
	for {
		c.SetReadDeadline(time.Now().Add(wait))
		n, err := c.Read(buf)
		if err != nil {
			return got
		}
		got = append(got, string(buf[:n]))
		wait = time.Millisecond
	}
}

// TestTasksCannotReachHostLoopbackOrSpoof reproduces CVE-2020-8558's class
// of hole: a task sends Ethernet frames of its own making to the bridge.
// One for 127.0.0.1 must not reach a host process bound to loopback, and
// frames with a source address or MAC that is not the task's must not
// leave its port. Each test sends the frames to be refused before a proper
// one through the same path: once the proper frame arrived, a refused one
// that the kernel had let through would have arrived first.
func TestTasksCannotReachHostLoopbackOrSpoof(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	p := newTestProvider(t, cfg)
	ctx := context.Background()
	for _, mode := range []network.Mode{network.ModeAWSVPC, network.ModeBridge} {
		t.Run(string(mode), func(t *testing.T) {
			att, err := p.Setup(ctx, network.Request{TaskID: "attacker-" + string(mode), Mode: mode})
			require.NoError(t, err)
			other, err := p.Setup(ctx, network.Request{TaskID: "other-" + string(mode), Mode: network.ModeAWSVPC})
			require.NoError(t, err)
			bridge, err := netlink.LinkByName(cfg.BridgeName)
			require.NoError(t, err)
			bridgeMAC := bridge.Attrs().HardwareAddr
			ownMAC, err := net.ParseMAC(att.MAC)
			require.NoError(t, err)
			own := netip.AddrPortFrom(att.Address.Addr(), 40000)

			victim := listenUDP(t, "127.0.0.1:0")
			gateway := listenUDP(t, netip.AddrPortFrom(att.Gateway, 0).String())
			victimAddr := victim.LocalAddr().(*net.UDPAddr).AddrPort()
			gatewayAddr := gateway.LocalAddr().(*net.UDPAddr).AddrPort()

			proper := frame{dstMAC: bridgeMAC, srcMAC: ownMAC, src: own, dst: gatewayAddr, payload: "proper"}
			toLoopback := proper
			toLoopback.dst, toLoopback.payload = victimAddr, "to host loopback"
			asOther := proper
			asOther.src, asOther.payload = netip.AddrPortFrom(other.Address.Addr(), 40000), "as another task"
			asOutsider := proper
			asOutsider.src, asOutsider.payload = netip.MustParseAddrPort("192.0.2.7:40000"), "as an outside address"
			otherMAC := proper
			otherMAC.srcMAC, otherMAC.payload = net.HardwareAddr{0x02, 0x42, 0xde, 0xad, 0xbe, 0xef}, "with a forged MAC"

			sendFrames(t, att.NetNSPath, toLoopback, asOther, asOutsider, otherMAC, proper)
			assert.Equal(t, []string{"proper"}, received(gateway, 5*time.Second),
				"only the frame with the task's own addresses reaches the host")
			assert.Empty(t, received(victim, 10*time.Millisecond),
				"a task's packet for 127.0.0.1 never reaches the host's loopback")

			// Between tasks the bridge forwards without routing: the port
			// guard alone keeps a task from passing for another one, which
			// security-group rules by source address rely on.
			var peer *net.UDPConn
			inNetNS(t, other.NetNSPath, func() (err error) {
				peer, err = net.ListenUDP("udp4", &net.UDPAddr{IP: other.Address.Addr().AsSlice(), Port: 5000})
				return err
			})
			t.Cleanup(func() { peer.Close() })
			peerMAC, err := net.ParseMAC(other.MAC)
			require.NoError(t, err)
			toPeer := func(f frame) frame {
				f.dstMAC, f.dst = peerMAC, netip.AddrPortFrom(other.Address.Addr(), 5000)
				return f
			}
			asThird := toPeer(proper)
			third := cfg.Subnet.Addr().As4()
			third[3] = 250 // nobody's in this test
			asThird.src, asThird.payload = netip.AddrPortFrom(netip.AddrFrom4(third), 40000), "as a third address"
			sendFrames(t, att.NetNSPath, asThird, toPeer(asOutsider), toPeer(otherMAC), toPeer(proper))
			assert.Equal(t, []string{"proper"}, received(peer, 5*time.Second),
				"only the frame with the task's own addresses reaches another task")
		})
	}
}

// TestHostStillReachesPublishedPortsOnLoopback checks that the guard
// leaves the host's own connections to 127.0.0.1:<published port> alone:
// their replies come back through the bridge addressed to 127.0.0.1.
func TestHostStillReachesPublishedPortsOnLoopback(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	p := newTestProvider(t, cfg)
	att, err := p.Setup(context.Background(), network.Request{TaskID: "web", Mode: network.ModeBridge,
		PortMappings: []network.PortMapping{{ContainerPort: 8080}}})
	require.NoError(t, err)
	serve(t, att.NetNSPath, 8080, "web")
	for range 3 {
		line, err := dial(t, "", netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), att.PortBindings[0].HostPort), 5*time.Second)
		require.NoError(t, err)
		assert.Equal(t, "web\n", line)
	}
}
