//go:build unix

// A loopback port that refuses connections until the test starts listening
// on it, for an identity provider that is not there yet.

package e2e

import (
	"net"
	"os"
	"syscall"
	"testing"
)

// reservePort binds a loopback TCP port without listening on it: a
// connection to it is refused ("connection refused", as with nothing there),
// yet no other process can take the port. listen starts listening on it.
func reservePort(t *testing.T) (addr string, listen func() net.Listener) {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("reserving a port: %v", err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		syscall.Close(fd)
		t.Fatalf("reserving a port: %v", err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		syscall.Close(fd)
		t.Fatalf("reserving a port: %v", err)
	}
	f := os.NewFile(uintptr(fd), "reserved port")
	t.Cleanup(func() { f.Close() })
	addr = (&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: sa.(*syscall.SockaddrInet4).Port}).String()
	return addr, func() net.Listener {
		t.Helper()
		if err := syscall.Listen(fd, syscall.SOMAXCONN); err != nil {
			t.Fatalf("listening on the reserved port %s: %v", addr, err)
		}
		ln, err := net.FileListener(f) // a duplicate of the descriptor
		if err != nil {
			t.Fatalf("listening on the reserved port %s: %v", addr, err)
		}
		return ln
	}
}
