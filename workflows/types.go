package workflows

import "github.com/scantron/scantron/scan"

// ScanInput starts one run of a scan. The workflow creates (or finds, by its
// own workflow ID) the run row, so the same input serves runs started by hand
// and runs started by a schedule.
type ScanInput struct {
	ScanID int64 `json:"scan_id"`
	// IgnoreWindows runs the scan now whatever its windows say: an
	// operator's explicit override for a run started by hand.
	IgnoreWindows bool `json:"ignore_windows,omitempty"`
}

// ScanResult is what a finished run reports.
type ScanResult struct {
	RunID     int64          `json:"run_id"`
	Status    scan.RunStatus `json:"status"`
	HostsUp   int            `json:"hosts_up"`
	OpenPorts int            `json:"open_ports"`
	CSV       scan.BlobRef   `json:"csv"`
}
