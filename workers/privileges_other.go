//go:build !linux

package workers

import "os"

// RawSockets reports whether this process may open raw sockets; outside
// Linux, only root is assumed to.
func RawSockets() bool { return os.Geteuid() == 0 }

// FileRawSockets reports whether the program at path gets CAP_NET_RAW from
// file capabilities; outside Linux it never does.
func FileRawSockets(string) bool { return false }
