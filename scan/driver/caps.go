package driver

import "strings"

// RawAccess is how a scanner started by this process gets raw sockets, if
// it does (see RawSocketAccess).
type RawAccess struct {
	Root     bool // this process runs as root, with CAP_NET_RAW effective
	Ambient  bool // CAP_NET_RAW is in this process's ambient capabilities
	FileCaps bool // the binary has cap_net_raw+ep file capabilities
}

// OK reports whether the scanner can open raw sockets.
func (a RawAccess) OK() bool { return a.Root || a.Ambient || a.FileCaps }

// NeedsPrivilegedFlag reports whether nmap must be told --privileged: it
// assumes raw sockets only as root and would otherwise fall back to a
// connect scan, or refuse -sS and -O.
func (a RawAccess) NeedsPrivilegedFlag() bool { return !a.Root && a.OK() }

func (a RawAccess) String() string {
	var how []string
	if a.Root {
		how = append(how, "root")
	}
	if a.Ambient {
		how = append(how, "ambient CAP_NET_RAW")
	}
	if a.FileCaps {
		how = append(how, "file capabilities")
	}
	if len(how) == 0 {
		return "no raw sockets (not root, no CAP_NET_RAW)"
	}
	return "raw sockets through " + strings.Join(how, " and ")
}

// RawSocketHelp is what an operator does to give a scanner raw sockets
// without running the agent as root.
const RawSocketHelp = "run `setcap cap_net_raw,cap_net_admin+eip` on the scanner binary, or give the agent CAP_NET_RAW as an ambient capability (systemd: AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN)"
