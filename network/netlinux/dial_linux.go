package netlinux

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"

	"github.com/vishvananda/netns"

	"github.com/stevedore-io/stevedore/network"
)

var _ network.TaskDialer = (*Provider)(nil)

// DialTask connects to addr from inside the network namespace of task
// taskID (awsvpc, bridge and none mode), so that "localhost" and
// 127.0.0.1 are the task's own loopback; in host mode it dials from the
// host's namespace. A host name other than localhost is looked up in the
// task's hosts file, then with the host's resolver; the lookup never runs
// inside the task's namespace. Errors wrap network.ErrNotFound for a task
// without an attachment.
//
// The socket is created on a goroutine locked to its OS thread, which
// enters the task's namespace for the dial only and then returns to the
// namespace it came from. Should that return fail, the thread stays locked
// and the goroutine ends, so the Go runtime discards the thread: no other
// goroutine ever runs in the task's namespace.
func (p *Provider) DialTask(ctx context.Context, taskID, nw, addr string) (net.Conn, error) {
	att, err := p.Attachment(ctx, taskID)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	if att.NetNSPath == "" {
		return d.DialContext(ctx, nw, addr)
	}
	switch nw {
	case "tcp", "tcp4", "tcp6", "udp", "udp4", "udp6":
	default:
		return nil, &net.OpError{Op: "dial", Net: nw, Err: net.UnknownNetworkError(nw)}
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: nw, Err: err}
	}
	ips, err := lookupForTask(ctx, att, nw, host)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: nw, Err: err}
	}
	var errs []error
	for _, ip := range ips {
		// One literal address per dial: net.Dialer then dials on the
		// calling goroutine only (with several addresses it may race
		// them on goroutines of its own, outside the namespace).
		c, err := dialInNetNS(ctx, att.NetNSPath, nw, net.JoinHostPort(ip.String(), port))
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

// lookupForTask returns the addresses of host as the task sees them, for
// network nw: an IP address is itself, localhost is the loopback, other
// names come from the task's hosts file or else the host's resolver.
func lookupForTask(ctx context.Context, att *network.Attachment, nw, host string) ([]netip.Addr, error) {
	want := func(ip netip.Addr) bool {
		switch {
		case strings.HasSuffix(nw, "4"):
			return ip.Is4()
		case strings.HasSuffix(nw, "6"):
			return ip.Is6()
		}
		return true
	}
	var ips []netip.Addr
	add := func(candidates ...netip.Addr) {
		for _, ip := range candidates {
			if ip = ip.Unmap(); want(ip) {
				ips = append(ips, ip)
			}
		}
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		add(ip)
	} else if strings.EqualFold(host, "localhost") {
		add(netip.AddrFrom4([4]byte{127, 0, 0, 1}), netip.IPv6Loopback())
	} else if found := lookupHostsFile(att.HostsPath, host); len(found) > 0 {
		add(found...)
	} else {
		found, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		if err != nil {
			return nil, err
		}
		add(found...)
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("%s has no %s address", host, nw)
	}
	return ips, nil
}

// lookupHostsFile returns the addresses of name in the hosts file at path.
func lookupHostsFile(path, name string) []netip.Addr {
	if path == "" {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var ips []netip.Addr
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		ip, err := netip.ParseAddr(fields[0])
		if err != nil {
			continue
		}
		for _, n := range fields[1:] {
			if strings.EqualFold(n, name) {
				ips = append(ips, ip)
				break
			}
		}
	}
	return ips
}

// dialInNetNS dials addr, an IP address and port, with a socket created in
// the namespace at path. See DialTask for the threads.
func dialInNetNS(ctx context.Context, path, nw, addr string) (net.Conn, error) {
	type result struct {
		conn net.Conn
		err  error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		var r result
		tainted := false
		defer func() {
			if !tainted {
				runtime.UnlockOSThread()
			}
			done <- r
		}()
		origin, err := netns.Get()
		if err != nil {
			r.err = fmt.Errorf("netlinux: dial %s: current namespace: %w", addr, err)
			return
		}
		defer origin.Close()
		target, err := netns.GetFromPath(path)
		if err != nil {
			r.err = fmt.Errorf("netlinux: dial %s: open namespace %s: %w", addr, path, err)
			return
		}
		defer target.Close()
		if err := netns.Set(target); err != nil {
			// setns changes nothing when it fails.
			r.err = fmt.Errorf("netlinux: dial %s: enter namespace %s: %w", addr, path, err)
			return
		}
		var d net.Dialer
		r.conn, r.err = d.DialContext(ctx, nw, addr)
		if err := netns.Set(origin); err != nil {
			// The connection is sound (a socket keeps the namespace it
			// was made in), but this thread must never run anything else.
			tainted = true
		}
	}()
	r := <-done
	return r.conn, r.err
}
