package scan

import "time"

// RunExposure is what one completed run found exposed, and how that
// differs from its scan's previous run.
type RunExposure struct {
	RunID      int64
	ScanID     int64
	FinishedAt time.Time
	HostsUp    int
	OpenPorts  int
	// From the run's diff (all 0 for a scan's first run).
	NewHosts, GoneHosts, OpenedPorts, ClosedPorts int
	// Services counts the run's open ports by service name ("" unnamed).
	Services map[string]int
}
