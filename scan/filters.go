package scan

import "net/netip"

// The filters that select and page lists of stored rows. A limit of 0 or
// less means no limit.

// ScanFilter selects and pages scans.
type ScanFilter struct {
	// Name keeps the scans whose name contains it, ignoring case; "" keeps all.
	Name   string
	Limit  int
	Offset int
}

// RunFilter selects and pages runs, newest first.
type RunFilter struct {
	ScanID int64 // 0 means runs of every scan
	Limit  int
	Offset int
}

// HostFilter selects and pages a run's hosts.
type HostFilter struct {
	Limit     int
	Offset    int
	WithPorts bool // fill HostRow.Ports, ordered by protocol and port
	// Network keeps the hosts whose address is in it (nil: any).
	Network *netip.Prefix
	// Port, Protocol and Service keep the hosts with a port of this number
	// (0: any), protocol ("": any) and service ("": any, else
	// case-insensitive); the hosts keep all their ports.
	Port     int
	Protocol string
	Service  string
}

// PortFilter selects and pages a run's ports.
type PortFilter struct {
	State    string        // "" means every state
	Network  *netip.Prefix // the host's address is in it (nil: any)
	Port     int           // 0: any
	Protocol string        // "": any
	Service  string        // "": any; else this service, case-insensitive
	Limit    int
	Offset   int
}
