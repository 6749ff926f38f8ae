//go:build !linux

package driver

import "os"

// RawSocketAccess says whether a scanner binary started by this process can
// open raw sockets. Off Linux only root is recognised.
func RawSocketAccess(string) RawAccess {
	return RawAccess{Root: os.Geteuid() == 0}
}
