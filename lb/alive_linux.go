package lb

import (
	"net"
	"syscall"
)

// alive reports whether an idle connection still looks open: no EOF, no
// error and no unexpected bytes waiting. It peeks without blocking, so that
// a connection the target closed while idle is not used for a request.
func alive(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	ok = false
	var buf [1]byte
	err = rc.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		ok = n <= 0 && err == syscall.EAGAIN
		return true // never wait
	})
	return err == nil && ok
}
