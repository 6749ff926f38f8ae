package scan

import "time"

// RunEvent is one announced change: of a run (Kind "run": its status,
// counts and error), of one of its shards (Kind "shard": its status and
// attempt), or the recording of its changes against the previous run
// (Kind "changes").
type RunEvent struct {
	Kind  string `json:"kind"`
	RunID int64  `json:"run_id"`
	// Run changes.
	ScanID    int64  `json:"scan_id,omitempty"`
	Seq       int64  `json:"seq,omitempty"`
	Status    string `json:"status"`
	HostsUp   int    `json:"hosts_up,omitempty"`
	OpenPorts int    `json:"open_ports,omitempty"`
	Partial   bool   `json:"partial,omitempty"`
	// WindowOpensAt is when a run paused outside its scan's windows
	// resumes.
	WindowOpensAt *time.Time `json:"window_opens_at,omitempty"`
	// Error is cut to 1000 characters in announcements; RunState has it
	// whole.
	Error string `json:"error,omitempty"`
	// Shard changes.
	Index   int `json:"index,omitempty"`
	Attempt int `json:"attempt,omitempty"`
}

// RunStatus is the event's status as a run status (Kind "run").
func (e RunEvent) RunStatus() RunStatus { return RunStatus(e.Status) }
