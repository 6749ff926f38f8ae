package targethost

import (
	"net"
	"testing"
)

// Loopback listens on a free TCP port of 127.0.0.1 until the test ends and
// hands each connection to serve, which owns it; a nil serve closes it at
// once (an open port for a connect scan). It returns the port.
func Loopback(tb testing.TB, serve func(net.Conn)) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	if serve == nil {
		serve = func(c net.Conn) { c.Close() }
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serve(c)
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}
