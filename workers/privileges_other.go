//go:build !linux

package workers

import "os"

// RawSockets reports whether this process may open raw sockets; outside
// Linux, only root is assumed to.
func RawSockets() bool { return os.Geteuid() == 0 }
